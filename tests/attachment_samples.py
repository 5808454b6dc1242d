"""Files to upload in tests, made here (Pillow draws the images), and
multipart bodies built by hand so a test controls every byte."""

from __future__ import annotations

import io
import uuid
import zlib

from PIL import Image


def image(fmt: str, size: tuple[int, int] = (640, 480), *, grey: bool = False) -> bytes:
    """A real image of ``fmt`` (PNG, JPEG, GIF, WEBP): a gradient, so it is not trivial."""
    width, height = size
    if grey:
        picture = Image.new("L", size)
        picture.putdata([(x + y) % 256 for y in range(height) for x in range(width)])
    else:
        picture = Image.new("RGB", size)
        cols, rows = range(width), range(height)
        pixels = [(x * 255 // width, y * 255 // height, 128) for y in rows for x in cols]
        picture.putdata(pixels)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


PNG = image("PNG", (64, 48))
JPEG = image("JPEG", (64, 48))
GIF = image("GIF", (64, 48), grey=True)
WEBP = image("WEBP", (64, 48))
BIG_PNG = image("PNG", (640, 480))

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
TEXT = "Order #1234: the parcel never came. Merci, ça va — 🙂\n".encode()
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x00" * 2000
"""The start of a Linux executable (renamed ``photo.png`` in the tests)."""
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def damaged_png() -> bytes:
    """A PNG whose structure is whole (it ends with IEND) but whose pixels do
    not decode: it passes the upload's checks and fails the image checker's."""
    good = BIG_PNG
    start = good.index(b"IDAT") + 4
    broken = bytearray(good)
    broken[start : start + 40] = bytes(40)
    # Keep the chunk's CRC right, so only decoding the pixels finds the damage.
    length = int.from_bytes(good[start - 8 : start - 4], "big")
    crc = zlib.crc32(bytes(broken[start - 4 : start + length]))
    broken[start + length : start + length + 4] = crc.to_bytes(4, "big")
    return bytes(broken)


def multipart(
    data: bytes,
    *,
    filename: str = "file.bin",
    field: str = "file",
    content_type: str = "application/octet-stream",
    extra_parts: int = 0,
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with one file part (and ``extra_parts``
    more), and its Content-Type header."""
    boundary = boundary or f"----parley{uuid.uuid4().hex}"
    part = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )
    extra = b"".join(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note{n}"\r\n\r\nhello\r\n'
        ).encode()
        for n in range(extra_parts)
    )
    body = part + extra + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
