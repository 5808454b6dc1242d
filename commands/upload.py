"""An upload's body, streamed: ``multipart/form-data`` in, one file out to
the blob store, checked on the way, never held whole in memory.

The body is parsed as it arrives (``multipart``'s push parser, the one
Litestar itself uses). Its one part must be the file (field ``file``,
with a file name). The first :data:`~commands.attachment_types.HEAD_BYTES`
decide the type (refused: nothing is stored); then every chunk goes to the
blob store while it is counted (past ``max_bytes``: refused) and checked
(:class:`~commands.attachment_types.ContentCheck`). The stream handed to
the store ends only once the whole body has been read and found well
formed, so a refusal at any point (too large, not whole, a second part, a
broken body) reaches the store as a failed stream: nothing is stored.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final

import msgspec
from multipart import (  # type: ignore[import-untyped]
    MultipartError,
    MultipartSegment,
    ParserLimitReached,
    PushMultipartParser,
)

from blobs.port import BlobStore, StoredBlob
from commands import errors
from commands.attachment_types import HEAD_BYTES, ContentCheck, sniff

FIELD: Final = "file"
OVERHEAD: Final = 16 * 1024
"""Bytes of a body beyond its file that are allowed (boundaries, headers)."""


class Received(msgspec.Struct, frozen=True, kw_only=True):
    """A stored upload: its blob, the type its content is, the name it came with."""

    blob: StoredBlob
    mime_type: str
    file_name: str | None


async def receive(
    body: AsyncIterator[bytes], boundary: str, *, max_bytes: int, blobs: BlobStore
) -> Received:
    """Store the one file of a multipart ``body`` in ``blobs``; raises a
    :class:`~commands.errors.DomainError` (and stores nothing) if it is refused."""
    events = _events(_bounded(body, max_bytes + OVERHEAD), boundary)
    try:
        segment = await anext(events, None)
        if not isinstance(segment, MultipartSegment) or segment.name != FIELD:
            raise errors.InvalidUpload(f"the body's first part must be the field {FIELD!r}")
        if not segment.filename:
            raise errors.InvalidUpload(f"the part {FIELD!r} must be a file (with a file name)")
        head, ended = bytearray(), False
        while len(head) < HEAD_BYTES:
            event = await anext(events, None)
            if not isinstance(event, bytes):
                ended = True
                break
            head += event
        mime_type = sniff(bytes(head))
        blob = await blobs.put(_content(bytes(head), ended, events, mime_type, max_bytes))
        return Received(blob=blob, mime_type=mime_type, file_name=segment.filename)
    finally:
        await events.aclose()


async def _content(
    head: bytes,
    ended: bool,
    events: AsyncIterator[MultipartSegment | bytes | None],
    mime_type: str,
    max_bytes: int,
) -> AsyncIterator[bytes]:
    """The file's bytes, checked; it ends only after the body's last byte."""
    check = ContentCheck(mime_type)
    chunk = head
    while True:
        if check.size + len(chunk) > max_bytes:
            raise errors.AttachmentTooLarge(
                f"the file is larger than {max_bytes} bytes", details={"max_bytes": max_bytes}
            )
        check.feed(chunk)
        yield chunk
        if ended:
            break
        event = await anext(events, None)
        if not isinstance(event, bytes):
            break
        chunk = event
    check.finish()
    if await anext(events, None) is not None:  # the body goes on: a second part
        raise errors.InvalidUpload("one file per upload: the body has more than one part")


async def _events(
    body: AsyncIterator[bytes], boundary: str
) -> AsyncGenerator[MultipartSegment | bytes | None, None]:
    """The parser's events: a part's headers, its bytes, None at its end.
    A malformed or incomplete body raises :class:`~commands.errors.InvalidUpload`."""
    try:
        with PushMultipartParser(boundary, max_header_count=8, max_segment_count=1) as parser:
            async for chunk in body:
                for event in parser.parse(chunk):
                    yield bytes(event) if isinstance(event, bytearray | memoryview) else event
                if parser.closed:
                    break
            if not parser.closed:  # the end of input: is the body complete?
                for event in parser.parse(b""):
                    yield event
    except ParserLimitReached:
        raise errors.InvalidUpload("one file per upload: the body has more than one part") from None
    except MultipartError as error:
        raise errors.InvalidUpload(f"not a valid multipart/form-data body: {error}") from None


async def _bounded(body: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``body``, refused once it is longer than ``limit`` bytes."""
    total = 0
    async for chunk in body:
        total += len(chunk)
        if total > limit:
            raise errors.AttachmentTooLarge(
                "the body is larger than the file size limit allows",
                details={"max_bytes": limit - OVERHEAD},
            )
        yield chunk
