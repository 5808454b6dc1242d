"""Time travel: a conversation as it was at a past moment, folded from its
events with the write side's own ``evolve``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import msgspec

from commands.decider import fold
from commands.model import INITIAL_STATE, stream_id_for
from events.catalogue import MergedFrom, MessageSent
from events.envelope import RecordedEvent
from events.store import EventStore


class MessageAsOf(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    message_id: UUID
    sender: str
    sender_id: str
    message_type: str
    content: str
    sent_at: datetime
    merged_from: MergedFrom | None = None
    """A copy merged in from another conversation: where it came from."""


class ConversationAsOf(msgspec.Struct, frozen=True, kw_only=True):
    """The state after every event up to ``position`` (a global position)."""

    conversation_id: UUID
    position: int
    at: datetime | None
    """When the last event folded in was recorded."""
    version: int
    client_id: str
    status: str
    priority: str
    summary: str | None
    deleted: bool
    unread_for_staff: int
    unread_for_client: int
    messages: list[MessageAsOf]
    snoozed_until: datetime | None = None
    """While snoozed: until when."""
    merged_into: UUID | None = None
    """Set once it was merged into another conversation."""


def fold_as_of(conversation_id: UUID, events: Iterable[RecordedEvent]) -> ConversationAsOf:
    """Pure: the conversation after ``events`` (in stream order)."""
    events = list(events)
    state, messages = fold(INITIAL_STATE, (e.data for e in events)), []
    last: RecordedEvent | None = None
    for event in events:
        if isinstance(event.data, MessageSent):
            e = event.data
            messages.append(
                MessageAsOf(
                    seq=e.seq,
                    message_id=e.message_id,
                    sender=e.sender,
                    sender_id=e.sender_id,
                    message_type=e.message_type,
                    content=e.content,
                    sent_at=event.recorded_at,
                    merged_from=e.merged_from,
                )
            )
        last = event
    return ConversationAsOf(
        conversation_id=conversation_id,
        position=last.global_position if last else 0,
        at=last.recorded_at if last else None,
        version=last.stream_position if last else 0,
        client_id=state.client_id,
        status=state.status,
        priority=state.priority,
        summary=state.summary,
        deleted=state.deleted,
        unread_for_staff=len(state.unread_for_staff),
        unread_for_client=len(state.unread_for_client),
        messages=messages,
        snoozed_until=state.snoozed_until,
        merged_into=state.merged_into,
    )


async def replay(
    store: EventStore, conversation_id: UUID, *, as_of: int | datetime
) -> ConversationAsOf:
    """The conversation as of a global position or a moment (inclusive)."""
    kept: list[RecordedEvent] = []
    after = 0
    while page := await store.read_stream(stream_id_for(conversation_id), after=after, limit=1000):
        for event in page:
            if _after(event, as_of):
                return fold_as_of(conversation_id, kept)
            kept.append(event)
        after = page[-1].stream_position
    return fold_as_of(conversation_id, kept)


def _after(event: RecordedEvent, as_of: int | datetime) -> bool:
    if isinstance(as_of, datetime):
        return event.recorded_at > as_of
    return event.global_position > as_of
