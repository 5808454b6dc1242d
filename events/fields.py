"""The building blocks of the event catalogue: enums, validated field types
and the ``Event`` base (see :mod:`events.catalogue` for the events)."""

from __future__ import annotations

from datetime import datetime
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
    SNOOZED = "snoozed"
    """Set aside until a moment (``ConversationSnoozed.until``) or the
    client's next message, whichever is first."""
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


# Text fields refuse NUL characters (PostgreSQL cannot store them in the read
# models' text columns, nor did it in the log's jsonb before migration 008);
# content must have at least one visible character.
_NO_NUL = r"^[^\x00]*\Z"
_NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*\Z"

NonEmptyId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NOT_BLANK)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NOT_BLANK)]
Content = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_CONTENT_LENGTH, pattern=_NOT_BLANK)
]
Summary = Annotated[str, msgspec.Meta(max_length=500, pattern=_NO_NUL)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=_NOT_BLANK)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
"""A blob's name: the hex SHA-256 of its bytes (see blobs.port)."""
Reason = Annotated[str, msgspec.Meta(max_length=500, pattern=_NO_NUL)]


class Client(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: NonEmptyId
    name: Name


class Attachment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A message's file: an uploaded attachment (``attachment_id``, see
    docs/ATTACHMENTS.md; its name, type and size are the upload's) or, as
    before uploads existed, a ``url`` elsewhere. Events stored with a url
    alone read as they always did."""

    url: Url | None = None
    attachment_id: UUID | None = None
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


class WakeReason(StrEnum):
    """Why a snoozed conversation woke."""

    TIMER = "timer"
    CLIENT_MESSAGE = "client_message"


LabelId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*\Z")
]
"""A label's id: lower-case letters, digits, ``-`` and ``_`` (it goes in paths)."""
LabelName = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=_NOT_BLANK)]
Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}\Z")]
"""``#rrggbb``."""
CannedCode = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+\Z")]
"""A canned response's short code, typed after ``/`` in the composer."""

StaffId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00\s/]+\Z")]
"""An agent's or a team's id: no blanks, no slashes (it goes in paths)."""
Capacity = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class Event(msgspec.Struct, tag_field="type", frozen=True, kw_only=True, gc=False):
    """Base of every stored event; ``type`` is the stored tag. Not tracked by
    the garbage collector (``gc=False``, as the envelopes and the fields'
    Structs): frozen, holding only values, an event can be in no reference
    cycle, and a rebuild or a replay makes millions whose tracking made the
    collector run ever more often."""


class ConversationEvent(Event, frozen=True, kw_only=True):
    """An event of one conversation's stream."""

    conversation_id: UUID


class MergedFrom(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Where a merged-in message came from: its conversation, seq and id
    there, when it was sent, and whether it had been read there (a message
    read before the merge stays read)."""

    conversation_id: UUID
    seq: Annotated[int, msgspec.Meta(ge=1)]
    message_id: UUID
    sent_at: datetime
    read_by_staff: bool = False
    read_by_client: bool = False
