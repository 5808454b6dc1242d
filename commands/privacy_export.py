"""An access request (GDPR art. 15): everything Parley stores about a
client, as JSON (``parley privacy export``, ``GET /api/privacy/clients/{id}``;
docs/PRIVACY.md).

Read from the log, not the read models: each of the client's conversations
with all its events (opened: the personal data as it is, or ``[erased]``
after an erasure), its uploads' events, its privacy events, and its data
keys' history (ids and dates, never key material).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from commands import access, errors
from commands.model import Actor
from commands.privacy import UNAVAILABLE
from events.envelope import RecordedEvent
from events.privacy_events import client_stream
from events.store import EventStore

_KEYS = """
SELECT key_id, created_at, erased_at FROM data_keys WHERE client_id = $1 ORDER BY created_at
"""
_CONVERSATIONS = """
SELECT DISTINCT stream_id FROM events
WHERE type = 'ConversationStarted' AND data #>> '{client,id}' = $1
"""
_UPLOADS = """
SELECT DISTINCT stream_id FROM events
WHERE type = 'AttachmentUploaded' AND data->>'conversation_id' = ANY($1::text[])
"""


class DataKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: UUID
    created_at: datetime
    erased_at: datetime | None


class StreamExport(msgspec.Struct, frozen=True, kw_only=True):
    stream_id: str
    events: list[RecordedEvent]


class ClientExport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything stored about ``client_id``, stream by stream."""

    client_id: str
    data_keys: list[DataKey]
    conversations: list[StreamExport]
    uploads: list[StreamExport]
    privacy: list[RecordedEvent]


async def export_client(
    store: EventStore, pool: asyncpg.Pool, client_id: str, actor: Actor
) -> ClientExport:
    """The client's data (admins only); :class:`~commands.errors.ClientNotFound`
    when Parley holds nothing about them."""
    access.require_admin(actor, "export a client's data")
    if "\x00" in client_id:  # no stored text holds one
        raise errors.ClientNotFound(f"Parley holds no data about client {client_id!r}")
    try:
        async with pool.acquire() as conn:
            keys = [DataKey(**dict(r)) for r in await conn.fetch(_KEYS, client_id)]
            streams = sorted(r[0] for r in await conn.fetch(_CONVERSATIONS, client_id))
            ids = [s.removeprefix("conversation-") for s in streams]
            uploads = sorted(r[0] for r in await conn.fetch(_UPLOADS, ids))
        conversations = [await _stream(store, s) for s in streams]
        files = [await _stream(store, s) for s in uploads]
        privacy = await store.read_stream(client_stream(client_id))
    except UNAVAILABLE as error:
        raise errors.Unavailable(f"the database is unavailable; retry ({error})") from None
    if not keys and not conversations and not privacy:
        raise errors.ClientNotFound(f"Parley holds no data about client {client_id!r}")
    return ClientExport(
        client_id=client_id,
        data_keys=keys,
        conversations=conversations,
        uploads=files,
        privacy=privacy,
    )


async def _stream(store: EventStore, stream_id: str) -> StreamExport:
    events: list[RecordedEvent] = []
    while page := await store.read_stream(stream_id, after=len(events), limit=1000):
        events += page
    return StreamExport(stream_id=stream_id, events=events)
