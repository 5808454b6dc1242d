"""The image checker: decodes each uploaded image in full and makes its
thumbnail, off the request path (docs/ATTACHMENTS.md).

- **Durable.** The images to check are read from the ``attachments`` read
  model (``is_image AND NOT checked``, :mod:`projections.attachments`), never
  kept in memory only: a worker started after a crash finds them all.
- **Off the loop.** The blob is spooled to a temporary file (memory up to
  1 MiB, then disk) and decoded in a thread (:func:`commands.images.examine`).
- **Exactly once, on every worker, without a leader.** The outcome is
  ``ImageChecked``, appended to the upload's stream with the expected
  version 1 (right after the upload) and an event id derived from the
  attachment's: of two workers checking one image, one appends, the
  other's append is refused or recognised as the same, and the thumbnail,
  stored by content hash, is one blob either way.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import BinaryIO, Final
from uuid import UUID

import asyncpg

from blobs.port import BlobNotFound, BlobStore
from commands import attachment_lookup, attachments
from commands.images import Examined, examine
from events.attachment_events import AttachmentUploaded, ImageChecked
from events.envelope import Metadata, NewEvent
from events.store import ConcurrencyError, DuplicateEventError, EventStore
from events.tasks import pause

__all__ = ["ImageChecker", "checked_event_id"]

log = logging.getLogger("parley.images")

TICK: Final = 0.5
"""Seconds between two looks when nothing is waiting."""
BATCH: Final = 8
SPOOL: Final = 1024 * 1024
"""Bytes of an image kept in memory while it is read; the rest goes to disk."""
_ACTOR = Metadata(actor_id="image-checker", actor_role="admin")
_NAMESPACE = uuid.UUID("0b1c2a4e-5d6f-4a8b-9c0d-1e2f3a4b5c6d")

_UNCHECKED = """
SELECT attachment_id FROM attachments WHERE is_image AND NOT checked ORDER BY position LIMIT $1
"""


def checked_event_id(attachment_id: UUID) -> UUID:
    """The id of an attachment's ``ImageChecked``: the same on every worker."""
    return uuid.uuid5(_NAMESPACE, f"image-checked:{attachment_id}")


class ImageChecker:
    def __init__(
        self, store: EventStore, pool: asyncpg.Pool, blobs: BlobStore, *, tick: float = TICK
    ) -> None:
        self._store = store
        self._pool = pool
        self._blobs = blobs
        self._tick = tick
        self.checked = 0
        """Images this checker decided on since it started."""

    async def run(self, stop: asyncio.Event) -> None:
        """Check what is waiting, then look again every ``tick``, until ``stop``."""
        while not stop.is_set():
            if await self.check_waiting() < BATCH and not await pause(stop, self._tick):
                return

    async def check_waiting(self) -> int:
        """One round: every image waiting (up to a batch); how many were looked at."""
        rows = await self._pool.fetch(_UNCHECKED, BATCH)
        for row in rows:
            await self.check(row["attachment_id"])
        return len(rows)

    async def check(self, attachment_id: UUID) -> ImageChecked | None:
        """Decode the image, store its thumbnail, append ``ImageChecked``
        (None: not an unchecked image, or another worker was first)."""
        state = await attachment_lookup.load(self._store, attachment_id)
        uploaded = state.uploaded
        if uploaded is None or not state.is_image or state.checked is not None:
            return None
        examined = await self._examine(uploaded)
        thumbnail = None
        if examined.thumbnail is not None:
            thumbnail = await self._blobs.put(_one(examined.thumbnail))
        event = ImageChecked(
            attachment_id=attachment_id,
            conversation_id=uploaded.conversation_id,
            width=examined.width,
            height=examined.height,
            thumbnail_sha256=thumbnail.sha256 if thumbnail else None,
            thumbnail_size=thumbnail.size if thumbnail else None,
            problem=examined.problem,
        )
        new = NewEvent(event_id=checked_event_id(attachment_id), data=event, metadata=_ACTOR)
        try:
            await self._store.append(attachments.stream_id(attachment_id), [new], 1)
        except (ConcurrencyError, DuplicateEventError):
            return None  # another worker checked it first
        self.checked += 1
        if examined.problem:
            log.info("image %s refused: %s", attachment_id, examined.problem)
        return event

    async def _examine(self, uploaded: AttachmentUploaded) -> Examined:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
            try:
                async for chunk in self._blobs.open(uploaded.sha256):
                    await asyncio.to_thread(spool.write, chunk)
            except BlobNotFound:
                log.warning(
                    "image %s: its blob is not in the blob store (removed, or do the servers "
                    "and workers not share one? see PARLEY_BLOB_STORE)",
                    uploaded.attachment_id,
                )
                return Examined(problem="the file was removed")
            await asyncio.to_thread(spool.seek, 0)
            file: BinaryIO = spool  # type: ignore[assignment]
            return await asyncio.to_thread(examine, file, uploaded.mime_type)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
