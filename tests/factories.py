"""Small builders for events in tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from uuid import UUID

from events.catalogue import MessageSent, Side
from events.envelope import AppendResult, Metadata, NewEvent
from events.store import EventStore, StoreUnavailable


def message(conversation_id: UUID | None = None, seq: int = 1, content: str = "hello") -> NewEvent:
    """A MessageSent event wrapped for appending, with a fresh event id."""
    return NewEvent(
        event_id=uuid.uuid4(),
        data=MessageSent(
            conversation_id=conversation_id or uuid.uuid4(),
            message_id=uuid.uuid4(),
            seq=seq,
            sender=Side.CLIENT,
            sender_id="client-1",
            content=content,
        ),
        metadata=Metadata(actor_id="client-1", actor_role="client"),
    )


def messages(n: int, conversation_id: UUID | None = None) -> list[NewEvent]:
    cid = conversation_id or uuid.uuid4()
    return [message(cid, seq=i + 1) for i in range(n)]


def new_stream_id() -> str:
    return f"conversation-{uuid.uuid4()}"


async def append_patiently(
    store: EventStore, stream_id: str, events: Sequence[NewEvent], expected_version: int
) -> AppendResult:
    """``store.append``, retried while the store answers "unavailable; retry
    with the same ids" (a test filling a large log on a loaded machine: a
    batch that missed its deadline is retried, and a retry of one that landed
    is recognised by its event ids)."""
    for _ in range(100):
        try:
            return await store.append(stream_id, events, expected_version)
        except StoreUnavailable:
            await asyncio.sleep(0.1)
    return await store.append(stream_id, events, expected_version)


INSERT_OLD_ROW = """
INSERT INTO events (global_position, stream_id, stream_position, event_id, type,
                    schema_version, data, recorded_at, hash)
SELECT $1::bigint, $2::text, $3::integer, $4::uuid, $5::text, $6::smallint, $7::text::json, at,
       parley_event_hash(coalesce(previous.hash, decode(repeat('00', 32), 'hex')),
                         $1::bigint, $3::integer, at,
                         parley_event_content($2::text, $4::uuid, $5::text, $6::smallint,
                                              $7::text::json, '{}'))
FROM clock_timestamp() AS at
LEFT JOIN events AS previous ON previous.global_position = $1::bigint - 1
"""
"""A row as an older Parley wrote it, by hand, with its hash in the chain (as
the migration that added the chain would have given it): arguments
global_position, stream_id, stream_position, event_id, type, schema_version,
and the data as JSON text; no metadata."""
