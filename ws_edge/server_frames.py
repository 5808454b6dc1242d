"""What the server sends: the frame bases, the conversation's event frames
of the seed and of assignment, the staff directory's, and the frames that
are not events (re-exported by :mod:`ws_edge.frames`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from events.catalogue import Attachment, MergedFrom
from read_api.queries import ConversationView
from ws_edge.presence_model import OnlineUser


class ServerFrame(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of what the server sends: every field is always there (``null``
    when it has no value), but for CONVERSATION_UPDATED's changed fields."""


class EventFrame(ServerFrame, frozen=True, kw_only=True):
    """A stored event: where it sits in its conversation and in the whole log."""

    conversation_id: UUID
    stream_position: int
    position: int
    at: datetime


class MessageCreated(EventFrame, tag="MESSAGE_CREATED", frozen=True, kw_only=True):
    message_id: UUID
    seq: int
    sender: str
    sender_id: str
    message_type: str
    content: str
    attachment: Attachment | None = None
    client_message_id: str | None = None
    sender_name: str | None = None
    """A staff sender's display name (null: a client, or no name known)."""
    merged_from: MergedFrom | None = None
    """A merged-in copy of another conversation's message: where it came
    from (null: a message of this conversation)."""


class MessagesRead(EventFrame, tag="MESSAGES_READ", frozen=True, kw_only=True):
    reader: str
    reader_id: str
    up_to_seq: int


class StatusChanged(EventFrame, tag="STATUS_CHANGED", frozen=True, kw_only=True):
    """A status change: ConversationStatusChanged, and snoozing (to
    ``snoozed``, ``until`` set) and waking (``snoozed`` to ``active``,
    ``reason`` ``timer`` or ``client_message``)."""

    from_status: str = msgspec.field(name="from")
    to_status: str = msgspec.field(name="to")
    reason: str | None = None
    until: datetime | None = None
    """Snoozed until (or the client's next message); null otherwise."""


class ConversationUpdated(
    EventFrame, tag="CONVERSATION_UPDATED", frozen=True, kw_only=True, omit_defaults=True
):
    """A conversation started, changed priority or summary, or was deleted.
    Only what changed is there: an absent field did not change."""

    change: Literal["started", "updated", "deleted"]
    priority: str | None = None
    summary: str | None = None
    status: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    channel: str | None = None


class Assigned(EventFrame, tag="ASSIGNED", frozen=True, kw_only=True):
    """Who handles the conversation now (a team alone: its queue), named
    where the directory knows the name. A client's socket gets it redacted:
    ``agent_name`` only ("an agent named X is handling this"); the other
    fields are null."""

    agent_id: str | None
    agent_name: str | None
    team_id: str | None
    team_name: str | None
    by: str | None
    reason: str | None


class Unassigned(EventFrame, tag="UNASSIGNED", frozen=True, kw_only=True):
    """Nobody handles the conversation; ``agent_id`` is who did, ``team_id``
    the queue it waits in. Redacted for clients as ASSIGNED is."""

    agent_id: str | None
    agent_name: str | None
    team_id: str | None
    team_name: str | None
    by: str | None
    reason: str | None


class StaffChanged(ServerFrame, tag="STAFF_CHANGED", frozen=True, kw_only=True):
    """Inbox sockets (staff) only: the staff directory changed (an agent's
    profile or availability, a team or its members). ``change`` is the event
    type; ``display_name`` the agent's name, ``name`` the team's, where known."""

    position: int
    at: datetime
    change: str
    agent_id: str | None = None
    team_id: str | None = None
    display_name: str | None = None
    capacity: int | None = None
    availability: str | None = None
    name: str | None = None


class ConversationRow(ServerFrame, tag="CONVERSATION_ROW", frozen=True, kw_only=True):
    """Inbox only: a conversation's inbox row (as GET /api/conversations/{id}
    gives it) once the read model has caught up with the events just sent."""

    conversation: ConversationView


class Typing(ServerFrame, tag="TYPING", frozen=True, kw_only=True):
    conversation_id: UUID
    user_id: str
    role: str
    state: Literal["started", "stopped"]


class Presence(ServerFrame, tag="PRESENCE", frozen=True, kw_only=True):
    """To staff: someone's first socket on a conversation opened (``joined``),
    or their last one closed or its node died (``left``)."""

    conversation_id: UUID
    user_id: str
    role: str
    state: Literal["joined", "left"]


class Subscriptions(ServerFrame, tag="SUBSCRIPTIONS", frozen=True, kw_only=True):
    """The answer to SUBSCRIBE / UNSUBSCRIBE: what the socket is subscribed to now."""

    ref: str | None = None
    conversation_ids: list[UUID]


class Ack(ServerFrame, tag="ACK", frozen=True, kw_only=True):
    """The command is durably committed (``position`` in the log)."""

    ref: str | None = None
    client_message_id: str | None = None
    message_id: UUID | None = None
    seq: int | None = None
    position: int
    replayed: bool = False


class Error(ServerFrame, tag="ERROR", frozen=True, kw_only=True):
    code: str
    message: str
    ref: str | None = None
    field: str | None = None
    retry_after: float | None = None
    """Seconds until a retry may succeed (``rate_limited``, ``unavailable``)."""
    details: dict[str, Any] | None = None
    """The refusal's details, as the HTTP API gives them (docs/COMMANDS.md)."""


class Pong(ServerFrame, tag="PONG", frozen=True, kw_only=True):
    ref: str | None = None


class Heartbeat(ServerFrame, tag="HEARTBEAT", frozen=True, kw_only=True):
    """Sent every heartbeat interval; answer with any frame (PING will do)."""


class Ready(ServerFrame, tag="READY", frozen=True, kw_only=True):
    """Replay is over: everything after ``after`` up to here was sent; live
    events follow. Inbox: ``position`` is the head of the log as replayed
    (``conversation_id`` and ``stream_position`` are null); conversation:
    ``stream_position`` is the head of its stream (``position`` is 0)."""

    conversation_id: UUID | None = None
    stream_position: int | None = None
    position: int
    online: list[OnlineUser] | None = None
    """Staff on a conversation: who is connected to it now (as GET
    .../presence answers); PRESENCE frames tell what changes after. Null on
    a client's socket and on the inbox."""
