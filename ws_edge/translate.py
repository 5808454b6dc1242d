"""Stored events as WebSocket frames, named by the directory, and the
redacted form of a frame for a client's socket."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypedDict
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
    Side,
)
from events.catalogue import ConversationUpdated as Updated
from events.envelope import RecordedEvent
from ws_edge import frames


class Names(Protocol):
    """Display names where known (``ws_edge.directory.Directory``)."""

    def agent_name(self, agent_id: str | None) -> str | None: ...

    def team_name(self, team_id: str | None) -> str | None: ...


class _NoNames:
    def agent_name(self, agent_id: str | None) -> str | None:
        return None

    def team_name(self, team_id: str | None) -> str | None:
        return None


NO_NAMES: Names = _NoNames()


class _Where(TypedDict):
    conversation_id: UUID
    stream_position: int
    position: int
    at: datetime


def event_frame(
    event: RecordedEvent, names: Names = NO_NAMES
) -> frames.EventFrame | frames.StaffChanged:
    """The frame that tells staff subscribers about ``event`` (a client's
    socket gets it through :func:`for_client`)."""
    if not isinstance(event.data, ConversationEvent):
        return staff_frame(event, names)
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
                sender_name=names.agent_name(e.sender_id) if e.sender == Side.ADMIN else None,
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
        case ConversationAssigned() | ConversationUnassigned() as e:
            kind = frames.Assigned if isinstance(e, ConversationAssigned) else frames.Unassigned
            return kind(
                **where,
                agent_id=e.agent_id,
                agent_name=names.agent_name(e.agent_id),
                team_id=e.team_id,
                team_name=names.team_name(e.team_id),
                by=e.by,
                reason=e.reason,
            )
    raise AssertionError(f"no frame for {event.type}")


def staff_frame(event: RecordedEvent, names: Names = NO_NAMES) -> frames.StaffChanged:
    """The frame that tells staff sockets about a change of the staff
    directory: the event's fields, and the names the directory knows."""
    data = event.data
    agent_id, team_id = getattr(data, "agent_id", None), getattr(data, "team_id", None)
    fields: dict[str, Any] = {
        "agent_id": agent_id,
        "team_id": team_id,
        "display_name": names.agent_name(agent_id),
        "name": names.team_name(team_id),
    }
    fields |= {
        name: getattr(data, name)
        for name in ("display_name", "capacity", "availability", "name")
        if getattr(data, name, None) is not None
    }
    return frames.StaffChanged(
        position=event.global_position, at=event.recorded_at, change=event.type, **fields
    )


REDACTED = ("agent_id", "team_id", "team_name", "by", "reason")
"""What a client's socket does not see of an ASSIGNED or UNASSIGNED."""


def for_client(frame: frames.ServerFrame) -> frames.ServerFrame:
    """``frame`` as a client's socket gets it: an assignment says only the
    agent's name (docs/PROTOCOL.md, "What clients see"); others unchanged."""
    if isinstance(frame, frames.Assigned | frames.Unassigned):
        return msgspec.structs.replace(frame, **dict.fromkeys(REDACTED))
    return frame


def redacts(frame: frames.ServerFrame) -> bool:
    """Does a client's socket get ``frame`` otherwise than staff do?"""
    return isinstance(frame, frames.Assigned | frames.Unassigned)
