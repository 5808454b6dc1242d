"""What an upload's bytes are: the allow-list, decided from the content
(magic bytes), never from the file name or the part's ``Content-Type``.

- ``sniff(head)`` names the type from the first bytes (:data:`HEAD_BYTES`)
  or refuses it (:class:`~commands.errors.UnsupportedAttachment`, 415): an
  executable renamed ``photo.png`` is refused here, before anything is stored.
- A :class:`ContentCheck` then follows every chunk as it streams past and,
  at the end, checks that the file is whole (its format's last bytes are
  there: a truncated image or PDF is :class:`~commands.errors.CorruptAttachment`,
  422), and that a text file is UTF-8 text all through (not just its start).

Decoding an image in full (and its thumbnail) is the worker's, off the
request path (:mod:`commands.images`). Pure: no I/O.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

from commands import errors
from events.attachment_events import IMAGE_TYPES

HEAD_BYTES: Final = 4096
"""Bytes ``sniff`` looks at (fewer if the file is shorter)."""

PNG, JPEG, GIF, WEBP = "image/png", "image/jpeg", "image/gif", "image/webp"
PDF, TEXT = "application/pdf", "text/plain"
ALLOWED: Final = (PNG, JPEG, GIF, WEBP, PDF, TEXT)
"""Every type an attachment may be (docs/ATTACHMENTS.md)."""
IMAGES: Final = IMAGE_TYPES
"""PNG, JPEG, GIF and WebP: checked and given a thumbnail (``commands.images``)."""

_TAIL = 1024
"""Bytes of the end kept to check a file is whole (PDF: ``%%EOF`` within them)."""
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
"""C0 controls but tab, line feed, vertical tab, form feed, carriage return
and escape; and DEL: a file with one is no plain text."""


def sniff(head: bytes) -> str:
    """The allowed type ``head`` (a file's first bytes) is; raises
    :class:`~commands.errors.UnsupportedAttachment` or (empty)
    :class:`~commands.errors.CorruptAttachment`."""
    if not head:
        raise errors.CorruptAttachment("the file is empty")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if _is_text(head, final=False):
        return TEXT
    raise errors.UnsupportedAttachment(
        "this type of file is not accepted: images (PNG, JPEG, GIF, WebP), PDF and plain "
        "UTF-8 text are",
        details={"accepted": list(ALLOWED)},
    )


def _is_text(data: bytes, *, final: bool) -> bool:
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return _NOT_TEXT.search(text) is None


class ContentCheck:
    """Follows a file of type ``mime_type`` chunk by chunk (``feed``), then
    says whether it is whole (``finish``). Keeps only the last kilobyte."""

    def __init__(self, mime_type: str) -> None:
        self.mime_type = mime_type
        self.size = 0
        self._tail = b""
        self._riff_size: int | None = None
        self._text = codecs.getincrementaldecoder("utf-8")() if mime_type == TEXT else None

    def feed(self, chunk: bytes) -> None:
        """The next chunk; a text file that turns out not to be text raises
        :class:`~commands.errors.UnsupportedAttachment`."""
        if self._riff_size is None and self.mime_type == WEBP and self.size == 0:
            self._riff_size = int.from_bytes(chunk[4:8], "little")
        self.size += len(chunk)
        self._tail = (self._tail + chunk)[-_TAIL:]
        if self._text is not None:
            self._check_text(chunk, final=False)

    def finish(self) -> None:
        """The file has ended: raises :class:`~commands.errors.CorruptAttachment`
        unless it is whole."""
        if self._text is not None:
            self._check_text(b"", final=True)
            return
        if not self._whole():
            kind = "PDF" if self.mime_type == PDF else "image"
            raise errors.CorruptAttachment(
                f"the {kind} is cut short or damaged (its end is missing)",
                details={"mime_type": self.mime_type},
            )

    def _whole(self) -> bool:
        tail = self._tail
        match self.mime_type:
            case "image/png":
                return tail.endswith(_PNG_END)
            case "image/jpeg":
                return tail.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")
            case "image/gif":
                return tail.rstrip(b"\x00\r\n ").endswith(b";")
            case "image/webp":
                return self._riff_size is not None and self.size >= 8 + self._riff_size >= 12
            case "application/pdf":
                return b"%%EOF" in tail
        return False

    def _check_text(self, chunk: bytes, *, final: bool) -> None:
        assert self._text is not None
        try:
            text = self._text.decode(chunk, final=final)
        except UnicodeDecodeError:
            text = "\x00"
        if _NOT_TEXT.search(text):
            raise errors.UnsupportedAttachment(
                "the file starts as plain text but is not UTF-8 text all through",
                details={"accepted": list(ALLOWED)},
            )
