"""Erasing a client (GDPR art. 17) in an append-only log: destroy its data
key, record ``ClientErased``, purge the plaintext copies (docs/PRIVACY.md).

The order is what makes it hold under concurrent traffic:

1. The client's live data key is destroyed (``data_keys``). From this
   commit on, every store read of its sealed events reads them redacted.
2. The read models are waited for up to the log's head, so every
   conversation and upload of the client is known; then ``ClientErased``
   (naming the destroyed keys and those conversations) is appended.
3. The snapshots of those conversations and their attachments' files (a
   blob no other client's upload uses) are deleted.
4. Every projection is waited for up to ``ClientErased``: each rewrites its
   rows of those conversations as erased, and a worker that opened an
   earlier event with the key forgets the key there (it is in log order).

An erasure of a client with no live key (erased before, or never wrote)
still runs steps 2 to 4: a second erasure finds nothing more to destroy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final
from uuid import UUID, uuid4

import asyncpg
import msgspec

from blobs.port import BlobStore, BlobStoreUnavailable
from commands import access, errors
from commands.model import Actor, stream_id_for
from events.catalogue import ClientErased
from events.envelope import Metadata, NewEvent
from events.postgres import checkpoints
from events.postgres.group_commit import CONNECTION_ERRORS
from events.postgres.keys import ClientKeys
from events.postgres.pool import bounded_connection
from events.privacy_events import client_stream
from events.store import EventStore, StoreUnavailable

UNAVAILABLE: Final[tuple[type[Exception], ...]] = (StoreUnavailable, *CONNECTION_ERRORS)
"""What a privacy operation answers 503 to: the database is away (never a bug)."""
KNOWS_CONVERSATIONS: Final = ("inbox", "attachments")
"""The read models that say which conversations and uploads a client has."""

_CONVERSATIONS = "SELECT conversation_id FROM conversations WHERE client_id = $1 ORDER BY 1"
_BLOBS = """
SELECT DISTINCT blob FROM attachments a,
    LATERAL (VALUES (a.sha256), (a.thumbnail_sha256)) AS used (blob)
WHERE a.conversation_id = ANY($1::uuid[]) AND blob IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM attachments other
    WHERE other.conversation_id <> ALL($1::uuid[])
      AND (other.sha256 = blob OR other.thumbnail_sha256 = blob)
  )
ORDER BY blob
"""


class Erasure(msgspec.Struct, frozen=True, kw_only=True):
    """What an erasure did. ``position``: its ``ClientErased`` event's;
    ``purged``: every read model had rewritten the client's rows when it
    answered (else they will shortly: a worker is behind)."""

    client_id: str
    position: int
    key_ids: list[UUID]
    conversation_ids: list[UUID]
    snapshots_deleted: int
    blobs_deleted: list[str]
    purged: bool


class PrivacyService:
    """Erases clients (admins only); see the module doc for the order."""

    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        keys: ClientKeys,
        blobs: BlobStore,
        projections: Sequence[str],
        *,
        wait: float = 30.0,
        new_id: Callable[[], UUID] = uuid4,
    ) -> None:
        self.store = store
        self.pool = pool
        self._keys = keys
        self._blobs = blobs
        self._projections = tuple(projections)
        self._wait = wait
        self._new_id = new_id

    async def erase(self, client_id: str, actor: Actor) -> Erasure:
        access.require_admin(actor, "erase a client")
        try:
            return await self._erase(client_id, actor)
        except UNAVAILABLE as error:
            raise errors.Unavailable(f"the database is unavailable; retry ({error})") from None

    async def _erase(self, client_id: str, actor: Actor) -> Erasure:
        async with bounded_connection(self.pool, self._wait) as (conn, _), conn.transaction():
            key_ids = await self._keys.erase(conn, client_id)
        head = await self.store.head_position()
        if await checkpoints.wait_for_position(self.pool, KNOWS_CONVERSATIONS, head, self._wait):
            raise errors.Unavailable(
                "the read models are behind the log: is a worker running? The key is "
                "destroyed; retry to finish the erasure"
            )
        conversations = [r[0] for r in await self.pool.fetch(_CONVERSATIONS, client_id)]
        event = ClientErased(
            client_id=client_id,
            key_ids=tuple(key_ids),
            conversation_ids=tuple(conversations),
            by=actor.id,
        )
        metadata = Metadata(actor_id=actor.id, actor_role=actor.role)
        new = NewEvent(event_id=self._new_id(), data=event, metadata=metadata)
        appended = await self.store.append(client_stream(client_id), [new], None)
        snapshots = await self.pool.execute(
            "DELETE FROM snapshots WHERE stream_id = ANY($1::text[])",
            [stream_id_for(c) for c in conversations],
        )
        blobs = await self._delete_blobs(conversations)
        position = appended.last_global_position
        behind = await checkpoints.wait_for_position(
            self.pool, self._projections, position, self._wait
        )
        return Erasure(
            client_id=client_id,
            position=position,
            key_ids=key_ids,
            conversation_ids=conversations,
            snapshots_deleted=int(snapshots.split()[-1]),
            blobs_deleted=blobs,
            purged=behind is None,
        )

    async def _delete_blobs(self, conversations: list[UUID]) -> list[str]:
        deleted: list[str] = []
        for row in await self.pool.fetch(_BLOBS, conversations):
            try:
                if await self._blobs.delete(row["blob"]):
                    deleted.append(row["blob"])
            except BlobStoreUnavailable as error:
                raise errors.Unavailable(
                    f"the file storage is unavailable; the key is destroyed: retry ({error})"
                ) from None
        return deleted
