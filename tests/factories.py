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
