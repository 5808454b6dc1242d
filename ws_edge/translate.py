"""Stored events as WebSocket frames, named by the directory, and the
redacted form of a frame for a client's socket (which frames a socket gets
at all is ``ws_edge.audience``'s to say)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypedDict, assert_never
from uuid import UUID

import msgspec

from events.attachment_events import AnyAttachmentEvent, AttachmentUploaded, ImageChecked
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyCatalogueEvent,
    AnyStaffEvent,
    CannedResponseChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    ClientErased,
    ConversationAssigned,
    ConversationDeleted,
    ConversationEvent,
    ConversationLabelled,
    ConversationMerged,
    ConversationMergedIn,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationWoke,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
    MessageSent,
    MessagesRead,
    NoteAdded,
    NotificationsRead,
    Side,
    Status,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
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


EventFrames = (
    frames.EventFrame
    | frames.StaffChanged
    | frames.CatalogueChanged
    | frames.NotificationsRead
    | frames.AttachmentChanged
    | frames.ClientErased
)
"""The frame of a stored event: a conversation's, or one for inbox sockets only."""


def event_frame(event: RecordedEvent, names: Names = NO_NAMES) -> EventFrames:
    """The frame that tells staff subscribers about ``event`` (who else may
    have it, and how, is ``ws_edge.audience``'s to say). Every event type has
    one: mypy checks the match is exhaustive."""
    data = event.data
    if not isinstance(data, ConversationEvent):
        return _outside_frame(event, data, names)
    where = _Where(
        conversation_id=data.conversation_id,
        stream_position=event.stream_position,
        position=event.global_position,
        at=event.recorded_at,
    )
    match data:
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
                merged_from=e.merged_from,
            )
        case MessagesRead() as e:
            return frames.MessagesRead(
                **where, reader=e.reader, reader_id=e.reader_id, up_to_seq=e.up_to_seq
            )
        case ConversationStatusChanged() as e:
            return frames.StatusChanged(
                **where, from_status=e.from_status, to_status=e.to_status, reason=e.reason
            )
        case ConversationSnoozed() as e:
            return frames.StatusChanged(
                **where, from_status=e.from_status, to_status=Status.SNOOZED, until=e.until
            )
        case ConversationWoke() as e:
            return frames.StatusChanged(
                **where, from_status=Status.SNOOZED, to_status=Status.ACTIVE, reason=e.reason
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
        case NoteAdded() as e:
            return frames.NoteAdded(
                **where,
                note_id=e.note_id,
                author_id=e.author_id,
                author_name=names.agent_name(e.author_id),
                content=e.content,
                mentions=list(e.mentions),
            )
        case ConversationLabelled() as e:
            return frames.Labelled(**where, label_id=e.label_id, by=e.by)
        case ConversationUnlabelled() as e:
            return frames.Unlabelled(**where, label_id=e.label_id, by=e.by)
        case ConversationMerged() as e:
            return frames.Merged(**where, into=e.into, up_to_seq=e.up_to_seq)
        case ConversationMergedIn() as e:
            return frames.MergedIn(**where, source_id=e.source_id, message_count=e.message_count)
        case _:
            assert_never(data)


def _outside_frame(
    event: RecordedEvent,
    data: AnyStaffEvent | AnyCatalogueEvent | AnyAttachmentEvent | ClientErased,
    names: Names,
) -> EventFrames:
    """The frame of an event outside conversations (inbox sockets only)."""
    position, at, change = event.global_position, event.recorded_at, event.type
    match data:
        case AttachmentUploaded() | ImageChecked() as e:
            return frames.AttachmentChanged(
                position=position,
                at=at,
                change=change,
                attachment_id=e.attachment_id,
                conversation_id=e.conversation_id,
                **_attachment_fields(e),
            )
        case ClientErased() as e:
            return frames.ClientErased(
                position=position,
                at=at,
                client_id=e.client_id,
                conversation_ids=list(e.conversation_ids),
            )
        case NotificationsRead() as e:
            return frames.NotificationsRead(
                position=position,
                at=at,
                agent_id=e.agent_id,
                up_to_position=e.up_to_position,
                note_ids=list(e.note_ids),
            )
        case LabelCreated() | LabelChanged() as e:
            return frames.CatalogueChanged(
                position=position,
                at=at,
                change=change,
                label_id=e.label_id,
                name=e.name,
                colour=e.colour,
            )
        case LabelDeleted() as e:
            return frames.CatalogueChanged(
                position=position, at=at, change=change, label_id=e.label_id
            )
        case CannedResponseCreated() as e:
            return frames.CatalogueChanged(
                position=position,
                at=at,
                change=change,
                response_id=e.response_id,
                owner_id=e.owner_id,
            )
        case CannedResponseChanged() | CannedResponseDeleted() as e:
            return frames.CatalogueChanged(
                position=position, at=at, change=change, response_id=e.response_id
            )
        case (
            AgentRegistered()
            | AgentProfileChanged()
            | AgentAvailabilityChanged()
            | TeamCreated()
            | TeamMemberAdded()
            | TeamMemberRemoved()
        ):
            return staff_frame(event, names)
        case _:
            assert_never(data)


def _attachment_fields(event: AnyAttachmentEvent) -> dict[str, Any]:
    if isinstance(event, AttachmentUploaded):
        return {"name": event.name, "mime_type": event.mime_type, "size": event.size}
    return {"thumbnail": event.thumbnail_sha256 is not None, "problem": event.problem}


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
    agent's name, a snooze not until when (docs/PROTOCOL.md, "What clients
    see"); others unchanged."""
    if isinstance(frame, frames.Assigned | frames.Unassigned):
        return msgspec.structs.replace(frame, **dict.fromkeys(REDACTED))
    if isinstance(frame, frames.StatusChanged) and frame.until is not None:
        return msgspec.structs.replace(frame, until=None)
    return frame


def redacts(frame: frames.ServerFrame) -> bool:
    """Does a client's socket get ``frame`` otherwise than staff do?"""
    if isinstance(frame, frames.StatusChanged):
        return frame.until is not None
    return isinstance(frame, frames.Assigned | frames.Unassigned)
