"""Read-side queries: plain SQL over the read models, returning Structs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from events.postgres.checkpoints import wait_for_position as wait_for_position
from read_api.row_labels import LABELS_COLUMN, LabelView, labels_of

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
DEFAULT_WAIT_SECONDS = 2.0
MAX_POSITION = 2**63 - 1
"""Global positions are PostgreSQL ``bigint``s."""


class ConversationView(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: UUID
    client_id: str
    client_name: str
    channel: str
    priority: str
    status: str
    summary: str | None
    created_at: datetime
    last_update: datetime
    last_message_preview: str | None
    last_message_at: datetime | None
    message_count: int
    unread_for_staff: int | None
    """P5: the client messages unread by its assignee, or (no assignee) by
    every staff member. ``None`` for a client (read_api.views.for_viewer)."""
    unread_for_client: int
    deleted: bool
    position: int
    """The global position of the last event folded into this row."""
    version: int
    """The stream position of that event: how far the conversation's stream has
    got. Subscribe to the conversation with ``after=version`` to be sent only
    what is newer than this row."""
    assignee_id: str | None = None
    assignee_name: str | None = None
    """The assignee's display name (their id when they have none): the one
    assignment field a client sees."""
    team_id: str | None = None
    team_name: str | None = None
    waiting_since: datetime | None = None
    """Since when it has been open without an agent; ``None`` when it has one
    or is closed."""
    last_message_sender: str | None = None
    """The side of the last message: ``admin``, ``client`` or ``system``."""
    last_message_sender_name: str | None = None
    """Staff: their display name; the client: ``client_name``."""
    my_unread: int = 0
    """The viewer's own unread: staff, the client messages after their own
    cursor; a client, ``unread_for_client``."""
    labels: list[LabelView] = []
    """Its labels still in the catalogue, by name (staff only: empty for a client)."""
    snoozed_until: datetime | None = None
    """While ``status`` is ``snoozed``: when it wakes (at the latest; the
    client's next message wakes it at once). ``None`` otherwise, and for a client."""
    merged_into: UUID | None = None
    """Set when the conversation was merged into another (then closed for
    good): its messages are copied there."""


class ConversationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ConversationView]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; ``None`` on the last page."""
    total: int | None = None
    """With ``include_total``: how many conversations the filters match
    (read_api/inbox_totals.py)."""
    total_exact: bool | None = None
    """With ``include_total``: false when ``total`` is a floor — a client,
    name or label filter matching more than 10,000 conversations is counted
    that far and no further."""


class MessageView(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: UUID
    seq: int
    message_id: UUID
    sender: str
    sender_id: str
    message_type: str
    content: str
    attachment: Any | None
    client_message_id: str | None
    created_at: datetime
    read_by_staff_at: datetime | None
    read_by_client_at: datetime | None
    position: int
    sender_name: str | None = None
    """A staff sender's display name (their id if they have none), the
    client's name for the client, ``None`` for the system."""
    merged_from: MergedFromView | None = None
    """A copy merged in from another conversation: where it came from."""


class MergedFromView(msgspec.Struct, frozen=True, kw_only=True):
    """Where a merged-in copy came from: the message ``message_id``, number
    ``seq`` of conversation ``conversation_id``, first sent at ``sent_at``."""

    conversation_id: UUID
    seq: int
    message_id: UUID
    sent_at: datetime


class MessagePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[MessageView]
    """Oldest first within the page; the page holds the newest messages before ``before``."""
    next_before: int | None
    """Pass as ``before`` for the older page; ``None`` when there is none."""


_COLUMNS = """
c.conversation_id, c.client_id, c.client_name, c.channel, c.priority, c.status, c.summary,
c.created_at, c.last_update, c.last_message_preview, c.last_message_at, c.message_count,
c.unread_for_staff, c.unread_for_client, c.deleted, c.position, c.version, c.assignee_id,
coalesce(a.display_name, c.assignee_id) AS assignee_name, c.team_id,
coalesce(t.name, c.team_id) AS team_name, c.waiting_since, c.last_message_sender,
c.snoozed_until,
CASE c.last_message_sender WHEN 'client' THEN c.client_name
     ELSE coalesce(s.display_name, c.last_message_sender_id) END AS last_message_sender_name,
c.merged_into
"""
JOINS = """
LEFT JOIN agents a ON a.agent_id = c.assignee_id
LEFT JOIN teams t ON t.team_id = c.team_id
LEFT JOIN agents s ON s.agent_id = c.last_message_sender_id AND c.last_message_sender = 'admin'
"""
"""Display names: the staff projection's, joined to the inbox's rows ``c``."""


def view_columns(viewer: str) -> str:
    """A ConversationView's columns of the row ``c`` as the staff member
    ``viewer`` (an SQL expression, ``NULL`` for a client) sees it: their own
    unread is one index range scan over the client messages after their cursor."""
    return f"""{_COLUMNS}, {LABELS_COLUMN}, CASE WHEN {viewer}::text IS NULL THEN 0 ELSE (
    SELECT count(*) FROM inbox_client_messages m
    WHERE m.conversation_id = c.conversation_id AND m.seq > coalesce((
        SELECT k.up_to_seq FROM inbox_staff_cursors k
        WHERE k.conversation_id = c.conversation_id AND k.reader_id = {viewer}::text), 0)
) END AS my_unread"""


def view_of(row: asyncpg.Record) -> ConversationView:
    values = {f: row[f] for f in ConversationView.__struct_fields__}
    values["labels"] = labels_of(values["labels"])
    return ConversationView(**values)


_BY_ID = f"""
SELECT {view_columns("$2")} FROM conversations c {JOINS} WHERE c.conversation_id = ANY($1::uuid[])
"""
_MESSAGES = """
SELECT m.conversation_id, m.seq, m.message_id, m.sender, m.sender_id, m.message_type, m.content,
       m.attachment, m.client_message_id, m.created_at, m.read_by_staff_at, m.read_by_client_at,
       m.position, m.merged_from_conversation_id, m.merged_from_seq, m.merged_from_message_id,
       m.merged_from_sent_at,
       CASE m.sender WHEN 'client' THEN c.client_name
                     WHEN 'admin' THEN coalesce(a.display_name, m.sender_id) END AS sender_name
FROM messages m
LEFT JOIN conversations c ON c.conversation_id = m.conversation_id
LEFT JOIN agents a ON a.agent_id = m.sender_id AND m.sender = 'admin'
WHERE m.conversation_id = $1 AND m.seq < $2
ORDER BY m.seq DESC
LIMIT $3
"""


async def get_conversation(
    pool: asyncpg.Pool, conversation_id: UUID, *, viewer: str | None
) -> ConversationView | None:
    """One conversation as the staff member ``viewer`` sees it (``None``: a
    client; pass the view through read_api.views.for_viewer before it leaves)."""
    rows = await conversations_by_id(pool, [conversation_id], viewer=viewer)
    return rows[0] if rows else None


async def conversations_by_id(
    pool: asyncpg.Pool, conversation_ids: list[UUID], *, viewer: str | None
) -> list[ConversationView]:
    """These conversations' rows, each with ``viewer``'s own unread."""
    return [view_of(r) for r in await pool.fetch(_BY_ID, conversation_ids, viewer)]


async def list_messages(
    pool: asyncpg.Pool, conversation_id: UUID, *, before: int | None, limit: int
) -> MessagePage:
    # No ``before``: every seq is below the largest integer (one statement, one index range).
    below = 2**31 - 1 if before is None else before
    rows = await pool.fetch(_MESSAGES, conversation_id, below, limit + 1)
    page = [_message(r) for r in rows[:limit]]
    page.reverse()
    return MessagePage(items=page, next_before=page[0].seq if len(rows) > limit else None)


def _message(row: asyncpg.Record) -> MessageView:
    values = dict(row)
    if values["attachment"] is not None:
        values["attachment"] = msgspec.json.decode(values["attachment"])
    origin = {f: values.pop(f"merged_from_{f}") for f in MergedFromView.__struct_fields__}
    if origin["message_id"] is not None:
        values["merged_from"] = MergedFromView(**origin)
    return MessageView(**values)
