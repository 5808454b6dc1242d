"""What an upload is, decided from its bytes: the allow-list by magic bytes,
never the name or the header; a file cut short is found at its end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import errors
from commands.attachment_types import ALLOWED, HEAD_BYTES, IMAGES, ContentCheck, sniff
from events.attachment_events import IMAGE_TYPES
from tests.attachment_samples import ELF, EXE, GIF, JPEG, PDF, PNG, TEXT, WEBP, truncated

WHOLE = {
    "image/png": PNG,
    "image/jpeg": JPEG,
    "image/gif": GIF,
    "image/webp": WEBP,
    "application/pdf": PDF,
    "text/plain": TEXT,
}


def check(data: bytes, chunk: int = 7) -> str:
    """Sniff, then follow ``data`` in chunks and finish: its type, or raises."""
    mime = sniff(data[:HEAD_BYTES])
    content = ContentCheck(mime)
    for start in range(0, len(data), chunk):
        content.feed(data[start : start + chunk])
    content.finish()
    return mime


def test_the_allow_list_is_images_pdf_and_text() -> None:
    assert set(WHOLE) == set(ALLOWED)
    assert IMAGES == IMAGE_TYPES == {"image/png", "image/jpeg", "image/gif", "image/webp"}


@pytest.mark.parametrize("mime", sorted(WHOLE))
def test_each_allowed_type_is_recognised_from_its_bytes(mime: str) -> None:
    assert check(WHOLE[mime]) == mime


@pytest.mark.parametrize("executable", [ELF, EXE], ids=["elf", "windows"])
def test_an_executable_is_refused_whatever_it_is_called(executable: bytes) -> None:
    with pytest.raises(errors.UnsupportedAttachment) as refused:
        sniff(executable[:HEAD_BYTES])
    assert refused.value.code == "unsupported_media_type"
    assert refused.value.details == {"accepted": list(ALLOWED)}


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04zip", b"\x00\x01\x02binary", "café".encode("latin-1"), b"<\x00h\x00"],
    ids=["zip", "binary", "latin-1", "utf-16"],
)
def test_other_binary_content_is_refused(data: bytes) -> None:
    with pytest.raises(errors.UnsupportedAttachment):
        check(data)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(errors.CorruptAttachment, match="empty"):
        sniff(b"")


@pytest.mark.parametrize("mime", sorted(set(WHOLE) - {"text/plain"}))
def test_an_image_or_pdf_cut_short_is_refused_at_its_end(mime: str) -> None:
    with pytest.raises(errors.CorruptAttachment) as refused:
        check(truncated(WHOLE[mime]))
    assert refused.value.code == "corrupt_attachment"


def test_text_must_be_text_all_through_not_just_at_the_start() -> None:
    data = b"a" * (HEAD_BYTES + 10) + b"\x00\x01 binary after the head"
    assert sniff(data[:HEAD_BYTES]) == "text/plain"
    with pytest.raises(errors.UnsupportedAttachment, match="not UTF-8 text all through"):
        check(data, chunk=1000)


def test_text_cut_in_the_middle_of_a_character_is_refused_at_the_end() -> None:
    with pytest.raises(errors.UnsupportedAttachment):
        check("ça".encode()[:1], chunk=1)


@given(
    mime=st.sampled_from(sorted(WHOLE)),
    chunk=st.integers(min_value=1, max_value=300),
    keep=st.floats(min_value=0.05, max_value=1.0),
)
def test_chunk_boundaries_never_change_the_verdict(mime: str, chunk: int, keep: float) -> None:
    """Wherever the network cuts the stream, the verdict is the one on the whole."""
    data = truncated(WHOLE[mime], keep) if keep < 1 else WHOLE[mime]

    def verdict(size: int) -> str:
        try:
            return check(data, size)
        except errors.DomainError as error:
            return error.code

    assert verdict(chunk) == verdict(len(data) or 1)
