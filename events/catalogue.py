"""The event catalogue: every fact Parley records, as one msgspec tagged union.

Each event is a frozen, keyword-only Struct. Its ``tag`` is the event type name
that is stored in the ``events.type`` column and inside the JSON payload, so it
must never change. Schema evolution happens only by adding fields with
defaults (or, for breaking changes, a new version with an upcaster).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final
from uuid import UUID

import msgspec

MAX_CONTENT_LENGTH: Final = 4000
"""Upper bound on a message's content, in characters."""


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    WEB = "web"


class Priority(StrEnum):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class Status(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    CLOSED = "closed"


class Side(StrEnum):
    """Who is on which side of a conversation: staff (admin) or client, or the system."""

    ADMIN = "admin"
    CLIENT = "client"
    SYSTEM = "system"


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"


# Text fields refuse NUL characters (PostgreSQL cannot store them in jsonb);
# content must have at least one visible character.
_NO_NUL = r"^[^\x00]*\Z"
_NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*\Z"

NonEmptyId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NOT_BLANK)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NOT_BLANK)]
Content = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_CONTENT_LENGTH, pattern=_NOT_BLANK)
]
Summary = Annotated[str, msgspec.Meta(max_length=500, pattern=_NO_NUL)]
Reason = Annotated[str, msgspec.Meta(max_length=500, pattern=_NO_NUL)]


class Client(msgspec.Struct, frozen=True, kw_only=True):
    id: NonEmptyId
    name: Name


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=_NOT_BLANK)]
    name: Name | None = None
    mime_type: Annotated[str, msgspec.Meta(max_length=200, pattern=_NO_NUL)] | None = None
    size: Annotated[int, msgspec.Meta(ge=0)] | None = None


class Availability(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AssignReason(StrEnum):
    """Why an assignment changed: a person chose it, the team's router did, or
    the router took the conversation back from an agent offline too long."""

    MANUAL = "manual"
    ROUTER = "router"
    AGENT_OFFLINE = "agent_offline"


StaffId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00\s/]+\Z")]
"""An agent's or a team's id: no blanks, no slashes (it goes in paths)."""
Capacity = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class Event(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of every stored event; ``type`` is the stored tag."""


class ConversationEvent(Event, frozen=True, kw_only=True):
    """An event of one conversation's stream."""

    conversation_id: UUID


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


# -- the staff directory: one stream per agent (``agent-<id>``), one per team ---------


class AgentRegistered(Event, tag="AgentRegistered", frozen=True, kw_only=True):
    """A staff member's profile, from their first sign-in or an admin."""

    agent_id: StaffId
    display_name: Name
    capacity: Capacity


class AgentProfileChanged(Event, tag="AgentProfileChanged", frozen=True, kw_only=True):
    """Only what changed is set."""

    agent_id: StaffId
    display_name: Name | None = None
    capacity: Capacity | None = None


class AgentAvailabilityChanged(Event, tag="AgentAvailabilityChanged", frozen=True, kw_only=True):
    agent_id: StaffId
    availability: Availability


class TeamCreated(Event, tag="TeamCreated", frozen=True, kw_only=True):
    team_id: StaffId
    name: Name
    routing: bool = True
    """Whether the team's router assigns its waiting conversations."""


class TeamMemberAdded(Event, tag="TeamMemberAdded", frozen=True, kw_only=True):
    team_id: StaffId
    agent_id: StaffId


class TeamMemberRemoved(Event, tag="TeamMemberRemoved", frozen=True, kw_only=True):
    team_id: StaffId
    agent_id: StaffId


AnyConversationEvent = (
    ConversationStarted
    | ConversationUpdated
    | ConversationStatusChanged
    | ConversationDeleted
    | MessageSent
    | MessagesRead
    | ConversationAssigned
    | ConversationUnassigned
)
AnyStaffEvent = (
    AgentRegistered
    | AgentProfileChanged
    | AgentAvailabilityChanged
    | TeamCreated
    | TeamMemberAdded
    | TeamMemberRemoved
)
AnyEvent = AnyConversationEvent | AnyStaffEvent
"""The tagged union of every event type."""

EVENT_TYPES: Final[dict[str, type[Event]]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        ConversationStarted,
        ConversationUpdated,
        ConversationStatusChanged,
        ConversationDeleted,
        MessageSent,
        MessagesRead,
        ConversationAssigned,
        ConversationUnassigned,
        AgentRegistered,
        AgentProfileChanged,
        AgentAvailabilityChanged,
        TeamCreated,
        TeamMemberAdded,
        TeamMemberRemoved,
    )
}


def event_type(event: Event) -> str:
    """The stored type name (tag) of an event."""
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
