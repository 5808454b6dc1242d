"""An upload's body, streamed to a (filesystem) blob store: one file stored
under its hash, or refused with nothing stored, however the body is cut
into chunks; and the image checker's decoding and thumbnails."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from blobs.filesystem import FilesystemBlobStore
from commands import errors
from commands.attachments import stream_id
from commands.image_checker import ImageChecker
from commands.images import MAX_PIXELS, THUMBNAIL_BOX, examine
from commands.upload import receive
from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import Side
from events.envelope import NewEvent
from tests.attachment_samples import (
    BIG_PNG,
    ELF,
    GIF,
    JPEG,
    PDF,
    PNG,
    TEXT,
    WEBP,
    damaged_png,
    image,
    multipart,
    truncated,
)
from tests.fakes.memory_store import MemoryEventStore

LIMIT = 64 * 1024


async def chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def stored(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


async def upload(root: Path, body: bytes, content_type: str, size: int = 1000) -> str:
    boundary = content_type.split("boundary=")[1]
    blobs = FilesystemBlobStore(root)
    received = await receive(chunks(body, size), boundary, max_bytes=LIMIT, blobs=blobs)
    return received.mime_type


@pytest.mark.parametrize(
    ("data", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf"), (TEXT, "text/plain")],
)
async def test_a_file_is_stored_under_its_hash_as_the_type_its_bytes_are(
    tmp_path: Path, data: bytes, mime: str
) -> None:
    body, content_type = multipart(data, filename="x.exe", content_type="application/x-msdownload")

    assert await upload(tmp_path, body, content_type) == mime
    assert stored(tmp_path) == [hashlib.sha256(data).hexdigest()]


@pytest.mark.parametrize(
    ("body_of", "code"),
    [
        (lambda: multipart(ELF, filename="photo.png", content_type="image/png"), 415),
        (lambda: multipart(truncated(BIG_PNG), filename="photo.png"), 422),
        (lambda: multipart(b"x" * (LIMIT + 1), filename="big.txt"), 413),
        (lambda: multipart(b"", filename="empty.txt"), 422),
        (lambda: multipart(PNG, field="photo"), 400),
        (lambda: multipart(PNG, filename=""), 400),
        (lambda: multipart(PNG, extra_parts=1), 400),
        (lambda: (multipart(PNG)[0][:-30], multipart(PNG)[1]), 400),
    ],
    ids=[
        "renamed-executable",
        "truncated-image",
        "too-large",
        "empty",
        "wrong-field",
        "not-a-file",
        "two-parts",
        "cut-body",
    ],
)
async def test_a_refused_upload_stores_nothing(
    tmp_path: Path, body_of: Callable[[], tuple[bytes, str]], code: int
) -> None:
    body, content_type = body_of()
    status = {
        "unsupported_media_type": 415,
        "corrupt_attachment": 422,
        "payload_too_large": 413,
        "invalid_request": 400,
    }
    with pytest.raises(errors.DomainError) as refused:
        await upload(tmp_path, body, content_type)
    assert status[refused.value.code] == code
    assert stored(tmp_path) == []


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.sampled_from([PNG, GIF, WEBP, TEXT, truncated(BIG_PNG), ELF]),
    size=st.integers(min_value=1, max_value=2000),
)
async def test_however_the_body_is_cut_the_verdict_is_the_same(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, size: int
) -> None:
    body, content_type = multipart(data, boundary="b0undary")

    async def verdict(chunk: int) -> tuple[str, list[str]]:
        root = tmp_path_factory.mktemp("blobs")
        try:
            outcome = await upload(root, body, content_type, chunk)
        except errors.DomainError as error:
            outcome = error.code
        return outcome, stored(root)

    assert await verdict(size) == await verdict(len(body))


# -- the image checker's decoding ---------------------------------------------------


def thumbnail_of(data: bytes, mime: str) -> Image.Image:
    examined = examine(io.BytesIO(data), mime)
    assert examined.problem is None and examined.thumbnail is not None
    return Image.open(io.BytesIO(examined.thumbnail))


@pytest.mark.parametrize(
    ("data", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_each_image_type_decodes_to_its_size_and_a_webp_thumbnail(data: bytes, mime: str) -> None:
    examined = examine(io.BytesIO(data), mime)
    assert (examined.width, examined.height, examined.problem) == (64, 48, None)
    assert thumbnail_of(data, mime).format == "WEBP"


def test_a_thumbnail_fits_its_box_and_keeps_the_shape() -> None:
    thumbnail = thumbnail_of(image("JPEG", (1600, 800)), "image/jpeg")
    assert thumbnail.size == (THUMBNAIL_BOX[0], THUMBNAIL_BOX[0] // 2)


def test_an_image_whose_pixels_do_not_decode_is_refused() -> None:
    examined = examine(io.BytesIO(damaged_png()), "image/png")
    assert examined.problem is not None and "does not decode" in examined.problem
    assert examined.thumbnail is None


def test_only_the_decoder_of_the_sniffed_type_is_tried() -> None:
    examined = examine(io.BytesIO(PNG), "image/jpeg")
    assert examined.problem is not None and examined.problem.startswith("JPEG does not decode")


def test_an_image_of_too_many_pixels_is_refused_undecoded() -> None:
    side = int(MAX_PIXELS**0.5) + 100
    bomb = io.BytesIO()
    Image.new("L", (side, side)).save(bomb, format="PNG")  # small on disk, huge decoded
    examined = examine(io.BytesIO(bomb.getvalue()), "image/png")
    assert examined.problem is not None and "pixels" in examined.problem


async def test_two_checkers_on_one_image_record_one_check_and_store_one_thumbnail(
    tmp_path: Path,
) -> None:
    store, blobs = MemoryEventStore(), FilesystemBlobStore(tmp_path)
    stored_png = await blobs.put(chunks(BIG_PNG))
    aid = uuid.uuid4()
    upload = AttachmentUploaded(
        attachment_id=aid,
        conversation_id=uuid.uuid4(),
        uploader_id="carol",
        uploader_side=Side.CLIENT,
        sha256=stored_png.sha256,
        size=stored_png.size,
        mime_type="image/png",
        name="photo.png",
    )
    await store.append(stream_id(aid), [NewEvent(event_id=uuid.uuid4(), data=upload)], 0)
    checkers = [ImageChecker(store, None, blobs) for _ in range(2)]  # type: ignore[arg-type]

    await asyncio.gather(*(checker.check(aid) for checker in checkers))

    events = [e.data for e in await store.read_stream(stream_id(aid))]
    assert [type(e).__name__ for e in events] == ["AttachmentUploaded", "ImageChecked"]
    checked = events[1]
    assert isinstance(checked, ImageChecked) and (checked.width, checked.height) == (640, 480)
    assert stored(tmp_path) == sorted([stored_png.sha256, str(checked.thumbnail_sha256)])
    assert await checkers[0].check(aid) is None  # checked already: nothing more
