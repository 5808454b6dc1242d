"""Stored events as WebSocket frames."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict
from uuid import UUID

import msgspec

from events.catalogue import (
    ConversationAssigned,
    ConversationDeleted,
    ConversationEvent,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    MessageSent,
    MessagesRead,
)
from events.catalogue import ConversationUpdated as Updated
from events.envelope import RecordedEvent
from ws_edge import frames


class _Where(TypedDict):
    conversation_id: UUID
    stream_position: int
    position: int
    at: datetime


def event_frame(event: RecordedEvent) -> frames.EventFrame | frames.StaffChanged:
    """The frame that tells subscribers about ``event``."""
    if not isinstance(event.data, ConversationEvent):
        return staff_frame(event)
    where = _Where(
        conversation_id=event.data.conversation_id,
        stream_position=event.stream_position,
        position=event.global_position,
        at=event.recorded_at,
    )
    match event.data:
        case MessageSent() as e:
            return frames.MessageCreated(
                **where,
                message_id=e.message_id,
                seq=e.seq,
                sender=e.sender,
                sender_id=e.sender_id,
                message_type=e.message_type,
                content=e.content,
                attachment=e.attachment,
                client_message_id=e.client_message_id,
            )
        case MessagesRead() as e:
            return frames.MessagesRead(
                **where, reader=e.reader, reader_id=e.reader_id, up_to_seq=e.up_to_seq
            )
        case ConversationStatusChanged() as e:
            return frames.StatusChanged(
                **where, from_status=e.from_status, to_status=e.to_status, reason=e.reason
            )
        case ConversationStarted() as e:
            return frames.ConversationUpdated(
                **where,
                change="started",
                priority=e.priority,
                summary=e.summary,
                status=e.status,
                client_id=e.client.id,
                client_name=e.client.name,
                channel=e.channel,
            )
        case Updated() as e:
            return frames.ConversationUpdated(
                **where, change="updated", priority=e.priority, summary=e.summary
            )
        case ConversationDeleted():
            return frames.ConversationUpdated(**where, change="deleted")
        case ConversationAssigned() as e:
            return frames.Assigned(
                **where, agent_id=e.agent_id, team_id=e.team_id, by=e.by, reason=e.reason
            )
        case ConversationUnassigned() as e:
            return frames.Unassigned(
                **where, agent_id=e.agent_id, team_id=e.team_id, by=e.by, reason=e.reason
            )
    raise AssertionError(f"no frame for {event.type}")


def staff_frame(event: RecordedEvent) -> frames.StaffChanged:
    """The frame that tells staff sockets about a change of the staff directory."""
    data = event.data
    frame = frames.StaffChanged(
        position=event.global_position, at=event.recorded_at, change=event.type
    )
    fields = {
        name: getattr(data, name)
        for name in ("agent_id", "team_id", "display_name", "capacity", "availability", "name")
        if hasattr(data, name)
    }
    return msgspec.structs.replace(frame, **fields)
