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


class Event(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of every stored event; ``type`` is the stored tag."""


class ConversationStarted(Event, tag="ConversationStarted", frozen=True, kw_only=True):
    conversation_id: UUID
    client: Client
    channel: Channel
    priority: Priority
    status: Status
    summary: Summary | None = None


class ConversationUpdated(Event, tag="ConversationUpdated", frozen=True, kw_only=True):
    """Only the fields that changed are set; ``None`` means unchanged."""

    conversation_id: UUID
    priority: Priority | None = None
    summary: Summary | None = None


class ConversationStatusChanged(Event, tag="ConversationStatusChanged", frozen=True, kw_only=True):
    conversation_id: UUID
    from_status: Status = msgspec.field(name="from")
    to_status: Status = msgspec.field(name="to")
    reason: Reason | None = None


class ConversationDeleted(Event, tag="ConversationDeleted", frozen=True, kw_only=True):
    """Soft delete: hidden from lists, history kept."""

    conversation_id: UUID


class MessageSent(Event, tag="MessageSent", frozen=True, kw_only=True):
    conversation_id: UUID
    message_id: UUID
    seq: Annotated[int, msgspec.Meta(ge=1)]
    sender: Side
    sender_id: NonEmptyId
    message_type: MessageType = MessageType.TEXT
    content: Content
    attachment: Attachment | None = None
    client_message_id: NonEmptyId | None = None


class MessagesRead(Event, tag="MessagesRead", frozen=True, kw_only=True):
    """The reader's side has read every message up to ``up_to_seq``."""

    conversation_id: UUID
    reader: Side
    reader_id: NonEmptyId
    up_to_seq: Annotated[int, msgspec.Meta(ge=1)]


AnyEvent = (
    ConversationStarted
    | ConversationUpdated
    | ConversationStatusChanged
    | ConversationDeleted
    | MessageSent
    | MessagesRead
)
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
    )
}


def event_type(event: Event) -> str:
    """The stored type name (tag) of an event."""
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
