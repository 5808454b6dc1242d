"""Read-side queries: plain SQL over the read models, returning Structs."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

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
    unread_for_staff: int
    unread_for_client: int
    deleted: bool
    position: int
    """The global position of the last event folded into this row."""
    version: int
    """The stream position of that event: how far the conversation's stream has
    got. Subscribe to the conversation with ``after=version`` to be sent only
    what is newer than this row."""


class ConversationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ConversationView]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; ``None`` on the last page."""
    total: int | None = None


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


class MessagePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[MessageView]
    """Oldest first within the page; the page holds the newest messages before ``before``."""
    next_before: int | None
    """Pass as ``before`` for the older page; ``None`` when there is none."""


class ConversationFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str | None = None
    priority: str | None = None
    client_id: str | None = None
    q: str | None = None
    include_deleted: bool = False


class BadCursor(ValueError):
    pass


def encode_cursor(last_update: datetime, conversation_id: UUID) -> str:
    raw = msgspec.json.encode([last_update.isoformat(), str(conversation_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, cid = msgspec.json.decode(raw, type=tuple[str, str])
        return datetime.fromisoformat(when), UUID(cid)
    except (binascii.Error, msgspec.DecodeError, ValueError) as error:
        raise BadCursor("cursor is not one this API gave out") from error


_COLUMNS = """
conversation_id, client_id, client_name, channel, priority, status, summary, created_at,
last_update, last_message_preview, last_message_at, message_count, unread_for_staff,
unread_for_client, deleted, position, version
"""
# $1..$4 filters (NULL = any), $5 include_deleted; keyset after ($6, $7); $8 limit.
_WHERE = """
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR priority = $2)
  AND ($3::text IS NULL OR client_id = $3)
  AND ($4::text IS NULL OR client_name ILIKE '%' || $4 || '%')
  AND ($5::boolean OR NOT deleted)
"""
_LIST = f"""
SELECT {_COLUMNS} FROM conversations
{_WHERE}
  AND ($6::timestamptz IS NULL OR (last_update, conversation_id) < ($6, $7))
ORDER BY last_update DESC, conversation_id DESC
LIMIT $8
"""
_COUNT = f"SELECT count(*) FROM conversations {_WHERE}"
_ONE = f"SELECT {_COLUMNS} FROM conversations WHERE conversation_id = $1"
_MESSAGES = """
SELECT conversation_id, seq, message_id, sender, sender_id, message_type, content,
       attachment, client_message_id, created_at, read_by_staff_at, read_by_client_at, position
FROM messages
WHERE conversation_id = $1 AND ($2::integer IS NULL OR seq < $2)
ORDER BY seq DESC
LIMIT $3
"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_conversations(
    pool: asyncpg.Pool,
    filters: ConversationFilter,
    *,
    cursor: str | None,
    limit: int,
    with_total: bool,
) -> ConversationPage:
    after = decode_cursor(cursor) if cursor else (None, None)
    q = _like_escape(filters.q) if filters.q else None
    args = (filters.status, filters.priority, filters.client_id, q, filters.include_deleted)
    rows = await pool.fetch(_LIST, *args, *after, limit + 1)
    items = [ConversationView(**dict(r)) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    total = await pool.fetchval(_COUNT, *args) if with_total else None
    return ConversationPage(
        items=items,
        next_cursor=encode_cursor(last.last_update, last.conversation_id) if last else None,
        total=total,
    )


async def get_conversation(pool: asyncpg.Pool, conversation_id: UUID) -> ConversationView | None:
    row = await pool.fetchrow(_ONE, conversation_id)
    return ConversationView(**dict(row)) if row else None


async def conversations_by_id(
    pool: asyncpg.Pool, conversation_ids: list[UUID]
) -> list[ConversationView]:
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM conversations WHERE conversation_id = ANY($1::uuid[])",
        conversation_ids,
    )
    return [ConversationView(**dict(r)) for r in rows]


async def list_messages(
    pool: asyncpg.Pool, conversation_id: UUID, *, before: int | None, limit: int
) -> MessagePage:
    rows = await pool.fetch(_MESSAGES, conversation_id, before, limit + 1)
    page = [_message(r) for r in rows[:limit]]
    page.reverse()
    return MessagePage(items=page, next_before=page[0].seq if len(rows) > limit else None)


def _message(row: asyncpg.Record) -> MessageView:
    values = dict(row)
    if values["attachment"] is not None:
        values["attachment"] = msgspec.json.decode(values["attachment"])
    return MessageView(**values)


async def wait_for_position(
    pool: asyncpg.Pool, projections: tuple[str, ...], position: int, timeout: float
) -> int | None:
    """Wait until every named projection has reached ``position``. Returns
    ``None`` when they have, else the lowest position reached by the timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        reached = await pool.fetchval(
            "SELECT coalesce(min(position), 0) FROM checkpoints WHERE name = ANY($1::text[])"
            " HAVING count(*) = cardinality($1::text[])",
            list(projections),
        )
        reached = int(reached or 0)
        if reached >= position:
            return None
        if time.monotonic() >= deadline:
            return reached
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.05)
