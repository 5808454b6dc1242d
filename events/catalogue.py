"""The event catalogue: every fact Parley records, as one msgspec tagged union.

Each event is a frozen, keyword-only Struct. Its ``tag`` is the event type name
that is stored in the ``events.type`` column and inside the JSON payload, so it
must never change. Schema evolution happens only by adding fields with
defaults (or, for breaking changes, a new version with an upcaster).

This module holds the conversation events and the unions; the field types
live in :mod:`events.fields`, the directory's and catalogues' events in
:mod:`events.directory_events` (both re-exported here).
"""

from __future__ import annotations

import typing
from typing import Annotated, Final
from uuid import UUID

import msgspec

from events.attachment_events import AnyAttachmentEvent
from events.directory_events import (
    AgentAvailabilityChanged as AgentAvailabilityChanged,
)
from events.directory_events import (
    AgentProfileChanged as AgentProfileChanged,
)
from events.directory_events import (
    AgentRegistered as AgentRegistered,
)
from events.directory_events import (
    CannedResponseChanged as CannedResponseChanged,
)
from events.directory_events import (
    CannedResponseCreated as CannedResponseCreated,
)
from events.directory_events import (
    CannedResponseDeleted as CannedResponseDeleted,
)
from events.directory_events import (
    LabelChanged as LabelChanged,
)
from events.directory_events import (
    LabelCreated as LabelCreated,
)
from events.directory_events import (
    LabelDeleted as LabelDeleted,
)
from events.directory_events import (
    NotificationsRead as NotificationsRead,
)
from events.directory_events import (
    TeamCreated as TeamCreated,
)
from events.directory_events import (
    TeamMemberAdded as TeamMemberAdded,
)
from events.directory_events import (
    TeamMemberRemoved as TeamMemberRemoved,
)
from events.fields import (
    MAX_CONTENT_LENGTH as MAX_CONTENT_LENGTH,
)
from events.fields import (
    AssignReason as AssignReason,
)
from events.fields import (
    Attachment as Attachment,
)
from events.fields import (
    Availability as Availability,
)
from events.fields import (
    CannedCode as CannedCode,
)
from events.fields import (
    Capacity as Capacity,
)
from events.fields import (
    Channel as Channel,
)
from events.fields import (
    Client as Client,
)
from events.fields import (
    Colour as Colour,
)
from events.fields import (
    Content as Content,
)
from events.fields import (
    ConversationEvent as ConversationEvent,
)
from events.fields import (
    Event as Event,
)
from events.fields import (
    LabelId as LabelId,
)
from events.fields import (
    LabelName as LabelName,
)
from events.fields import (
    MergedFrom as MergedFrom,
)
from events.fields import (
    MessageType as MessageType,
)
from events.fields import (
    Name as Name,
)
from events.fields import (
    NonEmptyId as NonEmptyId,
)
from events.fields import (
    Priority as Priority,
)
from events.fields import (
    Reason as Reason,
)
from events.fields import (
    Side as Side,
)
from events.fields import (
    StaffId as StaffId,
)
from events.fields import (
    Status as Status,
)
from events.fields import (
    Summary as Summary,
)
from events.fields import (
    WakeReason as WakeReason,
)
from events.privacy_events import AnyPrivacyEvent
from events.privacy_events import ClientErased as ClientErased
from events.support_events import (
    ConversationLabelled as ConversationLabelled,
)
from events.support_events import (
    ConversationMerged as ConversationMerged,
)
from events.support_events import (
    ConversationMergedIn as ConversationMergedIn,
)
from events.support_events import (
    ConversationSnoozed as ConversationSnoozed,
)
from events.support_events import (
    ConversationUnlabelled as ConversationUnlabelled,
)
from events.support_events import (
    ConversationWoke as ConversationWoke,
)
from events.support_events import (
    NoteAdded as NoteAdded,
)


class ConversationStarted(ConversationEvent, tag="ConversationStarted", frozen=True, kw_only=True):
    client: Client
    channel: Channel
    priority: Priority
    status: Status
    summary: Summary | None = None
    team_id: StaffId | None = None
    """The team whose queue it starts in (its router assigns it)."""


class ConversationUpdated(ConversationEvent, tag="ConversationUpdated", frozen=True, kw_only=True):
    """Only the fields that changed are set; ``None`` means unchanged."""

    priority: Priority | None = None
    summary: Summary | None = None


class ConversationStatusChanged(
    ConversationEvent, tag="ConversationStatusChanged", frozen=True, kw_only=True
):
    from_status: Status = msgspec.field(name="from")
    to_status: Status = msgspec.field(name="to")
    reason: Reason | None = None


class ConversationDeleted(ConversationEvent, tag="ConversationDeleted", frozen=True, kw_only=True):
    """Soft delete: hidden from lists, history kept."""


class MessageSent(ConversationEvent, tag="MessageSent", frozen=True, kw_only=True):
    message_id: UUID
    seq: Annotated[int, msgspec.Meta(ge=1)]
    sender: Side
    sender_id: NonEmptyId
    message_type: MessageType = MessageType.TEXT
    content: Content
    attachment: Attachment | None = None
    client_message_id: NonEmptyId | None = None
    merged_from: MergedFrom | None = None
    """Set on the copy a merge makes of another conversation's message."""


class MessagesRead(ConversationEvent, tag="MessagesRead", frozen=True, kw_only=True):
    """The reader's side has read every message up to ``up_to_seq``."""

    reader: Side
    reader_id: NonEmptyId
    up_to_seq: Annotated[int, msgspec.Meta(ge=1)]


class ConversationAssigned(
    ConversationEvent, tag="ConversationAssigned", frozen=True, kw_only=True
):
    """The conversation's assignment is now ``agent_id`` and/or ``team_id``: a
    team without an agent is the team's queue (its router picks an agent)."""

    agent_id: StaffId | None = None
    team_id: StaffId | None = None
    by: NonEmptyId
    """Who decided: a staff member's id, or ``router``."""
    reason: AssignReason = AssignReason.MANUAL


class ConversationUnassigned(
    ConversationEvent, tag="ConversationUnassigned", frozen=True, kw_only=True
):
    """Nobody handles the conversation any more. ``agent_id`` is who did;
    ``team_id`` the team whose queue it waits in now (``None``: no team)."""

    agent_id: StaffId | None = None
    team_id: StaffId | None = None
    by: NonEmptyId
    reason: AssignReason = AssignReason.MANUAL


AnyConversationEvent = (
    ConversationStarted
    | ConversationUpdated
    | ConversationStatusChanged
    | ConversationDeleted
    | MessageSent
    | MessagesRead
    | ConversationAssigned
    | ConversationUnassigned
    | NoteAdded
    | ConversationLabelled
    | ConversationUnlabelled
    | ConversationSnoozed
    | ConversationWoke
    | ConversationMerged
    | ConversationMergedIn
)
AnyStaffEvent = (
    AgentRegistered
    | AgentProfileChanged
    | AgentAvailabilityChanged
    | TeamCreated
    | TeamMemberAdded
    | TeamMemberRemoved
    | NotificationsRead
)
AnyCatalogueEvent = (
    LabelCreated
    | LabelChanged
    | LabelDeleted
    | CannedResponseCreated
    | CannedResponseChanged
    | CannedResponseDeleted
)
AnyEvent = (
    AnyConversationEvent | AnyStaffEvent | AnyCatalogueEvent | AnyAttachmentEvent | AnyPrivacyEvent
)
"""The tagged union of every event type (attachments': :mod:`events.attachment_events`;
privacy's: :mod:`events.privacy_events`)."""

EVENT_TYPES: Final[dict[str, type[Event]]] = {
    cls.__struct_config__.tag: cls for cls in typing.get_args(AnyEvent)
}

STAFF_ONLY_EVENTS: Final = (NoteAdded, ConversationLabelled, ConversationUnlabelled)
"""Conversation events a client never sees (commands.access decides who may)."""


def event_type(event: Event) -> str:
    """The stored type name (tag) of an event."""
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
