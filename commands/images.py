"""Decoding an uploaded image in full, and its thumbnail, with Pillow.

Run by the image checker (:mod:`commands.image_checker`) in a thread, off
the request path. Only the decoder of the type the content was found to be
is tried (``formats=``), an image of more than :data:`MAX_PIXELS` is refused
before it is decoded (a decompression bomb), and a truncated or damaged one
fails to decode (Pillow does not pad truncated images unless told to). The
thumbnail fits in :data:`THUMBNAIL_BOX`, turned upright by its EXIF
orientation, as WebP. Pure: bytes in (a file), an :class:`Examined` out.
"""

from __future__ import annotations

import io
import warnings
from typing import BinaryIO, Final

import msgspec
from PIL import Image, ImageOps

MAX_PIXELS: Final = 50_000_000
"""Pixels an image may have (50 megapixels): more is refused, undecoded."""
THUMBNAIL_BOX: Final = (320, 320)
THUMBNAIL_QUALITY: Final = 80

_FORMATS: Final = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


class Examined(msgspec.Struct, frozen=True, kw_only=True):
    """An image's size and thumbnail (WebP bytes), or why it is not valid."""

    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    problem: str | None = None


def examine(file: BinaryIO, mime_type: str) -> Examined:
    """Decode the image in ``file`` (of type ``mime_type``) and make its thumbnail."""
    fmt = _FORMATS.get(mime_type)
    if fmt is None:
        return Examined(problem=f"{mime_type} is not an image type")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(file, formats=[fmt]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return Examined(problem=f"too many pixels ({width}x{height})")
                image.load()  # the whole image: a truncated or damaged one fails here
                return Examined(width=width, height=height, thumbnail=_thumbnail(image))
        except (
            OSError,
            SyntaxError,
            ValueError,
            EOFError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as error:
            return Examined(problem=f"{fmt} does not decode: {_short(error)}")


def _thumbnail(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail(THUMBNAIL_BOX)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    thumbnail = upright.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    thumbnail.save(out, format="WEBP", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]
