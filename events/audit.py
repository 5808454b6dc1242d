"""Audit helpers over the event log: one-line summaries, JSON Lines, paging.

The integrity checks (``parley events verify``) are in :mod:`events.integrity`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final, assert_never

import msgspec

from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
    CannedResponseChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    ClientErased,
    ConversationAssigned,
    ConversationDeleted,
    ConversationLabelled,
    ConversationMerged,
    ConversationMergedIn,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationUpdated,
    ConversationWoke,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
    MessageSent,
    MessagesRead,
    MessageType,
    NoteAdded,
    NotificationsRead,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
    event_type,
)
from events.envelope import Metadata, RecordedEvent
from events.store import EventStore

QUOTE_LENGTH: Final = 40
"""Quoted text (message content, summaries) is cut to this many characters."""


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: QUOTE_LENGTH - 1]}…"' if len(flat) > QUOTE_LENGTH else f'"{flat}"'


def summary(event: AnyEvent) -> str:
    """The event in one line, its type first: ``MessageSent #3 by client c-1: "My parcel…"``."""
    match event:
        case ConversationStarted():
            client = f"{event.client.id} ({_quote(event.client.name)})"
            details = f"for client {client} via {event.channel}, {event.priority}, {event.status}"
        case ConversationUpdated():
            changes = [f"priority {event.priority}"] if event.priority else []
            if event.summary is not None:
                changes.append(f"summary {_quote(event.summary)}")
            details = ", ".join(changes)
        case ConversationStatusChanged():
            details = f"{event.from_status} -> {event.to_status}"
            details += f" ({_quote(event.reason)})" if event.reason else ""
        case ConversationDeleted():
            details = ""
        case MessageSent():
            details = f"#{event.seq} by {event.sender} {event.sender_id}: {_quote(event.content)}"
            if event.message_type is not MessageType.TEXT:
                details += f" [{event.message_type}]"
            if event.attachment is not None:
                details += f" + attachment {event.attachment.url or event.attachment.attachment_id}"
        case MessagesRead():
            details = f"{event.reader} {event.reader_id} read up to #{event.up_to_seq}"
        case ConversationAssigned() | ConversationUnassigned():
            whom = ", ".join(
                f"{k} {v}" for k, v in (("agent", event.agent_id), ("team", event.team_id)) if v
            )
            details = f"{whom or 'nobody'} by {event.by} ({event.reason})"
        case AgentRegistered():
            details = f"{event.agent_id} {_quote(event.display_name)}, capacity {event.capacity}"
        case AgentProfileChanged():
            changes = [f"name {_quote(event.display_name)}"] if event.display_name else []
            changes += [f"capacity {event.capacity}"] if event.capacity is not None else []
            details = f"{event.agent_id}: {', '.join(changes)}"
        case AgentAvailabilityChanged():
            details = f"{event.agent_id} {event.availability}"
        case TeamCreated():
            details = f"{event.team_id} {_quote(event.name)}" + (
                "" if event.routing else " (no router)"
            )
        case TeamMemberAdded() | TeamMemberRemoved():
            details = f"{event.team_id}: {event.agent_id}"
        case NoteAdded():
            details = f"by {event.author_id}: {_quote(event.content)}"
            details += f" (mentions {', '.join(event.mentions)})" if event.mentions else ""
        case ConversationLabelled() | ConversationUnlabelled():
            details = f"{event.label_id} by {event.by}"
        case ConversationSnoozed():
            details = f"until {event.until.isoformat()} by {event.by} (was {event.from_status})"
        case ConversationWoke():
            details = f"({event.reason})"
        case ConversationMerged():
            details = f"into {event.into} up to #{event.up_to_seq} by {event.by}"
        case ConversationMergedIn():
            details = f"{event.message_count} message(s) from {event.source_id} by {event.by}"
        case NotificationsRead():
            read = f"up to {event.up_to_position}" if event.up_to_position is not None else ""
            details = f"{event.agent_id} {read}{' '.join(map(str, event.note_ids))}"
        case LabelCreated() | LabelChanged():
            details = f"{event.label_id} {_quote(event.name) if event.name else ''}"
            details += f" {event.colour}" if event.colour else ""
        case LabelDeleted():
            details = event.label_id
        case CannedResponseCreated() | CannedResponseChanged():
            code = f"/{event.code}" if event.code else ""
            details = f"{event.response_id} {code} {_quote(event.content) if event.content else ''}"
        case CannedResponseDeleted():
            details = str(event.response_id)
        case AttachmentUploaded():
            details = f"{event.attachment_id} {event.mime_type} {event.size} B {_quote(event.name)}"
            details += f" for {event.conversation_id} by {event.uploader_side} {event.uploader_id}"
        case ClientErased():
            details = f"{event.client_id} keys {' '.join(map(str, event.key_ids))} by {event.by}"
        case ImageChecked():
            details = f"{event.attachment_id} " + (event.problem or f"{event.width}x{event.height}")
        case _:
            assert_never(event)
    return f"{event_type(event)} {details}".rstrip()


def actor(metadata: Metadata) -> str:
    """Who caused an event: ``admin alice``, ``client carol``, or ``-``."""
    return " ".join(filter(None, (metadata.actor_role, metadata.actor_id))) or "-"


_encoder = msgspec.json.Encoder()


def json_lines(events: Sequence[RecordedEvent]) -> bytes:
    """One JSON envelope per line (decodes back with ``msgspec.json.Decoder(RecordedEvent)``)."""
    return _encoder.encode_lines(events)


async def pages(
    store: EventStore, *, after: int, until: int | None = None, size: int = 1000
) -> AsyncIterator[list[RecordedEvent]]:
    """The log after position ``after`` up to ``until`` (inclusive; ``None``: to its
    current end), one page of at most ``size`` events at a time."""
    while until is None or after < until:
        limit = size if until is None else min(size, until - after)
        page = await store.read_all(after=after, limit=limit)
        if not page:
            return
        yield page
        after = page[-1].global_position
