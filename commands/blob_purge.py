"""Removing a deleted conversation's files from the blob store
(``parley attachments purge``; docs/ATTACHMENTS.md, "Deleting a
conversation's files").

Only a conversation that was deleted (``ConversationDeleted``) has its
blobs removed: each blob its uploads use (the file, an image's thumbnail)
that no other conversation's upload uses too — blobs are shared by content,
so the same photo sent in two conversations stays for the other one. The
log is untouched (it is append-only): the uploads' events remain, and their
signed URLs answer ``410 attachment_gone``. The ``attachments`` read model
says which upload uses which blob; the purge first waits until it has
caught up with the log, so an upload made just before is counted.

Not covered (a later issue, with erasure): an upload of the same bytes for
another conversation made *during* a purge may lose its blob.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from blobs.port import BlobStore
from commands import errors
from commands.decider import fold
from commands.model import INITIAL_STATE, stream_id_for
from events.postgres import checkpoints
from events.store import EventStore

PROJECTION: Final = "attachments"

_BLOBS = """
SELECT DISTINCT blob FROM attachments a,
    LATERAL (VALUES (a.sha256), (a.thumbnail_sha256)) AS used (blob)
WHERE a.conversation_id = $1 AND blob IS NOT NULL
ORDER BY blob
"""
_SHARED = """
SELECT EXISTS (
    SELECT 1 FROM attachments
    WHERE conversation_id <> $1 AND (sha256 = $2 OR thumbnail_sha256 = $2)
)
"""


class Purged(msgspec.Struct, frozen=True, kw_only=True):
    """What a purge did: blobs ``removed``, ``kept`` (another conversation
    uses them) and ``missing`` (already gone)."""

    conversation_id: UUID
    removed: list[str]
    kept: list[str]
    missing: list[str]


async def purge_blobs(
    pool: asyncpg.Pool,
    store: EventStore,
    blobs: BlobStore,
    conversation_id: UUID,
    *,
    wait: float = 10.0,
) -> Purged:
    """Remove the blobs of deleted conversation ``conversation_id`` that no
    other conversation uses; raises a :class:`~commands.errors.DomainError`
    when the conversation is unknown or not deleted, or the read model lags
    more than ``wait`` seconds behind."""
    page = await store.read_stream(stream_id_for(conversation_id))
    state = fold(INITIAL_STATE, (e.data for e in page))
    if not state.started:
        raise errors.ConversationNotFound("no such conversation")
    if not state.deleted:
        raise errors.InvalidCommand("only a deleted conversation's files are removed: delete it")
    await _caught_up(pool, await store.head_position(), wait)
    removed, kept, missing = [], [], []
    for row in await pool.fetch(_BLOBS, conversation_id):
        blob: str = row["blob"]
        if await pool.fetchval(_SHARED, conversation_id, blob):
            kept.append(blob)
        elif await blobs.delete(blob):
            removed.append(blob)
        else:
            missing.append(blob)
    return Purged(conversation_id=conversation_id, removed=removed, kept=kept, missing=missing)


async def _caught_up(pool: asyncpg.Pool, head: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        async with pool.acquire() as conn:
            if await checkpoints.load(conn, PROJECTION) >= head:
                return
        if time.monotonic() >= deadline:
            raise errors.Unavailable(
                "the attachments read model is behind the log: is a worker running? retry"
            )
        await asyncio.sleep(0.1)
