"""Commands, the actor who sends them, and a conversation's state.

Commands are frozen msgspec Structs; the HTTP and WebSocket edges decode
requests into them, so validation lives here once. They are never stored, so
they need no tag: ``AnyCommand`` is a plain union for ``decide`` to match on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec

from events.catalogue import (
    AssignReason,
    Attachment,
    Channel,
    Client,
    Content,
    LabelId,
    MergedFrom,
    MessageSent,
    MessageType,
    NonEmptyId,
    Priority,
    Reason,
    Side,
    StaffId,
    Status,
    Summary,
)

CommandId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*\Z")]


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    CLIENT = "client"


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who sends a command: staff (admin, agent) see every conversation; a
    client only its own (``client_id``)."""

    id: str
    role: Role
    client_id: str | None = None
    name: str | None = None
    """The display name the token gives (staff: their first sign-in's name)."""

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.AGENT)

    @property
    def side(self) -> Side:
        return Side.ADMIN if self.is_staff else Side.CLIENT


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every command. ``command_id`` makes any command idempotent: a
    retry with the same id returns the first result and writes nothing."""

    command_id: CommandId | None = None
    seen_version: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    """The conversation version the sender last saw: if the conversation has
    moved since (a message from someone else, a status or assignee change),
    the command is refused ``conversation_moved`` (see commands.guard)."""


class StartConversation(Command, frozen=True, kw_only=True):
    client: Client
    channel: Channel
    priority: Priority = Priority.MEDIUM
    summary: Summary | None = None
    status: Status = Status.ACTIVE
    conversation_id: UUID | None = None
    """Optional: the caller may choose the id (the handler mints one otherwise)."""
    team_id: StaffId | None = None
    """Start in this team's queue (its router assigns an agent)."""


class UpdateConversation(Command, frozen=True, kw_only=True):
    conversation_id: UUID
    priority: Priority | None = None
    summary: Summary | None = None


class ChangeStatus(Command, frozen=True, kw_only=True):
    conversation_id: UUID
    status: Status
    reason: Reason | None = None


class DeleteConversation(Command, frozen=True, kw_only=True):
    conversation_id: UUID


class SendMessage(Command, frozen=True, kw_only=True):
    conversation_id: UUID
    content: Content
    message_type: MessageType = MessageType.TEXT
    attachment: Attachment | None = None
    client_message_id: NonEmptyId | None = None
    """The sender's own id for this message: a resend with it is not a new message."""
    sender: Side | None = None
    """Defaults to the actor's side; staff may send as ``system``."""


class MarkRead(Command, frozen=True, kw_only=True):
    conversation_id: UUID
    up_to_seq: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Read everything up to this message seq; ``None`` means up to the last."""


class AssignConversation(Command, frozen=True, kw_only=True):
    """Hand the conversation to an agent (it stays in its team) and/or a team
    (a team alone: the team's queue); neither: nobody handles it, no team."""

    conversation_id: UUID
    agent_id: StaffId | None = None
    team_id: StaffId | None = None
    reason: AssignReason = AssignReason.MANUAL


class AddNote(Command, frozen=True, kw_only=True):
    """A private note for staff. ``mentions``: the agents it notifies (the
    edges add those its ``@name``s name, see commands.notes)."""

    conversation_id: UUID
    content: Content
    mentions: tuple[StaffId, ...] = ()


class LabelConversation(Command, frozen=True, kw_only=True):
    conversation_id: UUID
    label_id: LabelId


class UnlabelConversation(Command, frozen=True, kw_only=True):
    conversation_id: UUID
    label_id: LabelId


class SnoozeConversation(Command, frozen=True, kw_only=True):
    """Set the conversation aside until ``until`` (or the client's next message)."""

    conversation_id: UUID
    until: datetime


class WakeConversation(Command, frozen=True, kw_only=True):
    """The waker's command: wake the conversation if its snooze is over."""

    conversation_id: UUID


class MergeTarget(msgspec.Struct, frozen=True, kw_only=True):
    """What a merge needs to know of its target (read by the merge service)."""

    client_id: str
    status: Status
    deleted: bool = False
    merged_into: UUID | None = None


class MergeConversation(Command, frozen=True, kw_only=True):
    """Merge this conversation (the source) into ``into``; ``target`` is
    ``into``'s state as the merge service read it (``None``: no such one)."""

    conversation_id: UUID
    into: UUID
    target: MergeTarget | None = None


class ImportMerged(Command, frozen=True, kw_only=True):
    """The target's half of a merge: copy the source's messages (each with
    where it came from) after the target's own."""

    conversation_id: UUID
    source_id: UUID
    messages: tuple[tuple[MessageSent, MergedFrom], ...] = ()


AnyCommand = (
    StartConversation
    | UpdateConversation
    | ChangeStatus
    | DeleteConversation
    | SendMessage
    | MarkRead
    | AssignConversation
    | AddNote
    | LabelConversation
    | UnlabelConversation
    | SnoozeConversation
    | WakeConversation
    | MergeConversation
    | ImportMerged
)


STATE_SCHEMA_VERSION = 1
"""The version of ``ConversationState``'s stored form (its snapshots,
commands.snapshots): a snapshot of another version is ignored and replaced.
Bump it whenever the state's fields (names, types, defaults) change, or the
same events would fold into another state (a change of ``evolve`` or of an
upcaster); tests/unit/test_snapshots.py fails until the fields' fingerprint
is recorded with a new version."""


class ConversationState(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation as the write side needs it to decide.

    ``unread_for_staff`` holds the seqs of client messages no staff member has
    read (after the furthest staff cursor), ``unread_for_client`` those of
    staff messages after the client's cursor. ``staff_cursors`` is each staff
    member's own read cursor. System messages are unread for nobody.
    """

    conversation_id: UUID | None = None
    client_id: str = ""
    status: Status = Status.ACTIVE
    priority: Priority = Priority.MEDIUM
    summary: str | None = None
    deleted: bool = False
    last_seq: int = 0
    staff_read_up_to: int = 0
    client_read_up_to: int = 0
    unread_for_staff: tuple[int, ...] = ()
    unread_for_client: tuple[int, ...] = ()
    staff_cursors: dict[str, int] = msgspec.field(default_factory=dict)
    assignee_id: str | None = None
    team_id: str | None = None
    labels: frozenset[str] = frozenset()
    snoozed_until: datetime | None = None
    merged_into: UUID | None = None
    """Set once merged into another conversation: it takes nothing new."""
    merged_sources: tuple[UUID, ...] = ()
    """The conversations whose messages were merged into this one."""

    def cursor_of(self, staff_id: str) -> int:
        return self.staff_cursors.get(staff_id, 0)

    @property
    def started(self) -> bool:
        return self.conversation_id is not None


INITIAL_STATE = ConversationState()


def stream_id_for(conversation_id: UUID) -> str:
    """One event stream per conversation."""
    return f"conversation-{conversation_id}"
