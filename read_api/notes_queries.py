"""The staff timeline and mention notifications: plain SQL over the read
models (``messages``, ``timeline_entries``, ``notifications``), returning
Structs. Staff only: the HTTP edge (:mod:`read_api.notes_http`) checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from read_api.queries import MessageView

TIMELINE_PROJECTIONS = ("timeline", "timeline_entries")
"""The staff timeline merges these two projections' tables."""


class TimelineMessage(MessageView, tag_field="kind", tag="message", frozen=True, kw_only=True):
    """A message, as ``GET /api/messages`` gives it."""


class TimelineNote(msgspec.Struct, tag_field="kind", tag="note", frozen=True, kw_only=True):
    """A private note between staff."""

    conversation_id: UUID
    position: int
    created_at: datetime
    note_id: UUID
    author_id: str
    author_name: str
    """Their display name (their id when they have none)."""
    content: str
    mentions: list[str]


class TimelineSystem(msgspec.Struct, tag_field="kind", tag="system", frozen=True, kw_only=True):
    """A system entry: a status change, snooze, wake-up, assignment, merge
    or label change. ``details``: the event's own fields, as stored."""

    conversation_id: UUID
    position: int
    created_at: datetime
    event_type: str
    by: str | None
    by_name: str | None
    details: dict[str, Any]


TimelineItem = TimelineMessage | TimelineNote | TimelineSystem


class TimelinePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TimelineItem]
    """In log order (by global ``position``), oldest first."""
    next_after: int | None
    """Pass as ``after`` for the next page; ``None`` when this page holds
    everything the read models have reached."""
    reached: int
    """The global position the timeline's read models have reached: later
    items may come; poll with ``after`` = the last item's position."""


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    note_id: UUID
    conversation_id: UUID
    author_id: str
    author_name: str
    excerpt: str
    """The note's first 140 characters."""
    created_at: datetime
    position: int
    """The note's global position (``up_to_position`` of a read, a ``before`` cursor)."""
    read: bool


class NotificationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Notification]
    """Newest first."""
    next_before: int | None
    """Pass as ``before`` for the older page; ``None`` on the last."""
    unread_count: int
    """All of the caller's unread notifications (not only this page's)."""


_REACHED = """
SELECT coalesce(min(position), 0) FROM checkpoints WHERE name = ANY($1::text[])
HAVING count(*) = cardinality($1::text[])
"""
_MESSAGES = """
SELECT m.conversation_id, m.seq, m.message_id, m.sender, m.sender_id, m.message_type, m.content,
       m.attachment, m.client_message_id, m.created_at, m.read_by_staff_at, m.read_by_client_at,
       m.position,
       CASE m.sender WHEN 'client' THEN c.client_name
                     WHEN 'admin' THEN coalesce(a.display_name, m.sender_id) END AS sender_name
FROM messages m
LEFT JOIN conversations c ON c.conversation_id = m.conversation_id
LEFT JOIN agents a ON a.agent_id = m.sender_id AND m.sender = 'admin'
WHERE m.conversation_id = $1 AND m.position > $2 AND m.position <= $3
ORDER BY m.position
LIMIT $4
"""
_ENTRIES = """
SELECT e.conversation_id, e.position, e.created_at, e.kind, e.event_type, e.author_id,
       coalesce(a.display_name, e.author_id) AS author_name, e.note_id, e.content, e.details
FROM timeline_entries e
LEFT JOIN agents a ON a.agent_id = e.author_id
WHERE e.conversation_id = $1 AND e.position > $2 AND e.position <= $3
ORDER BY e.position
LIMIT $4
"""
_NOTIFICATIONS = """
SELECT n.note_id, n.conversation_id, n.author_id,
       coalesce(a.display_name, n.author_id) AS author_name, n.excerpt, n.created_at,
       n.position, n.read_at IS NOT NULL AS read
FROM notifications n
LEFT JOIN agents a ON a.agent_id = n.author_id
WHERE n.agent_id = $1 AND n.position < $2 {unread}
ORDER BY n.position DESC
LIMIT $3
"""
_UNREAD = "SELECT count(*) FROM notifications WHERE agent_id = $1 AND read_at IS NULL"


async def timeline(
    pool: asyncpg.Pool, conversation_id: UUID, *, after: int, limit: int
) -> TimelinePage:
    """The conversation's messages, notes and system entries after the
    global position ``after``, in log order. Only what both projections have
    reached is given, so a page never skips an item one of them adds later."""
    reached = int(await pool.fetchval(_REACHED, list(TIMELINE_PROJECTIONS)) or 0)
    messages = await pool.fetch(_MESSAGES, conversation_id, after, reached, limit + 1)
    entries = await pool.fetch(_ENTRIES, conversation_id, after, reached, limit + 1)
    merged: list[TimelineItem] = [
        *(_message(r) for r in messages),
        *(_entry(r) for r in entries),
    ]
    merged.sort(key=lambda item: item.position)
    items = merged[:limit]
    more = len(merged) > limit
    return TimelinePage(
        items=items, next_after=items[-1].position if more else None, reached=reached
    )


def _message(row: asyncpg.Record) -> TimelineMessage:
    values = dict(row)
    if values["attachment"] is not None:
        values["attachment"] = msgspec.json.decode(values["attachment"])
    return TimelineMessage(**values)


def _entry(row: asyncpg.Record) -> TimelineNote | TimelineSystem:
    details = msgspec.json.decode(row["details"])
    common = {k: row[k] for k in ("conversation_id", "position", "created_at")}
    if row["kind"] == "note":
        return TimelineNote(
            **common,
            note_id=row["note_id"],
            author_id=row["author_id"],
            author_name=row["author_name"],
            content=row["content"],
            mentions=list(details.get("mentions", [])),
        )
    return TimelineSystem(
        **common,
        event_type=row["event_type"],
        by=row["author_id"],
        by_name=row["author_name"],
        details=details,
    )


async def notifications(
    pool: asyncpg.Pool, agent_id: str, *, unread_only: bool, before: int | None, limit: int
) -> NotificationPage:
    """``agent_id``'s notifications before the position ``before``, newest first."""
    # One statement per shape, each on its own index (no ``$n IS NULL OR``
    # catch-all, which a generic plan cannot use an index for).
    sql = _NOTIFICATIONS.format(unread="AND n.read_at IS NULL" if unread_only else "")
    rows = await pool.fetch(sql, agent_id, 2**63 - 1 if before is None else before, limit + 1)
    items = [Notification(**dict(r)) for r in rows[:limit]]
    unread = int(await pool.fetchval(_UNREAD, agent_id))
    return NotificationPage(
        items=items,
        next_before=items[-1].position if len(rows) > limit else None,
        unread_count=unread,
    )
