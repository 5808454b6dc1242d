"""The inbox query: conversations filtered, sorted and paged by keyset.

Every sort orders by its keys and then ``conversation_id``, all in one
direction, so a page's cursor (the last row's keys, with the sort's name) is
one row comparison against the sort's index. A cursor only fits the sort it
came from. The SQL names only the filters asked for, so each combination
gets a plan of its own (partial indexes for ``assignee``)."""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from read_api.queries import JOINS, ConversationPage, view_columns, view_of


class Sort(StrEnum):
    LAST_MESSAGE = "last_message"
    """Newest last message first (a conversation without messages: its start)."""
    CREATED = "created"
    """Newest first."""
    PRIORITY = "priority"
    """High, then Medium, then Low; within each, as ``last_message``."""
    WAITING = "waiting"
    """Longest waiting first; then the rows not waiting, oldest started first."""


@dataclass(frozen=True)
class _Order:
    keys: tuple[str, ...]  # generated columns of ``conversations`` (migration 003)
    kinds: tuple[type, ...]
    descending: bool


_ORDERS = {
    Sort.LAST_MESSAGE: _Order(("activity_at",), (datetime,), True),
    Sort.CREATED: _Order(("created_at",), (datetime,), True),
    Sort.PRIORITY: _Order(("priority_rank", "activity_at"), (int, datetime), True),
    Sort.WAITING: _Order(("not_waiting", "queue_at"), (bool, datetime), False),
}

UNASSIGNED = "unassigned"
ME = "me"


class InboxFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str | None = None
    priority: str | None = None
    channel: str | None = None
    client_id: str | None = None
    q: str | None = None
    include_deleted: bool = False
    assignee_id: str | None = None
    """An agent's id (``me`` already resolved), or ``unassigned``."""
    team_id: str | None = None
    label_ids: tuple[str, ...] = ()
    """Conversations carrying every one of these labels (each still in the catalogue)."""


class BadCursor(ValueError):
    pass


def encode_cursor(sort: Sort, keys: list[Any]) -> str:
    plain = [k.isoformat() if isinstance(k, datetime) else k for k in keys]
    raw = msgspec.json.encode([sort.value, *plain])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> list[Any]:
    """The keys after which the page starts; :class:`BadCursor` for one we
    never gave out or one of another sort."""
    order = _ORDERS[sort]
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, *keys = msgspec.json.decode(raw, type=list[Any])
    except (binascii.Error, msgspec.DecodeError, ValueError) as error:
        raise BadCursor("cursor is not one this API gave out") from error
    if name != sort.value and name in set(Sort):
        raise BadCursor(f"this cursor pages sort={name}, not sort={sort.value}")
    if name != sort.value or len(keys) != len(order.kinds) + 1:
        raise BadCursor("cursor is not one this API gave out")
    try:
        return [_key(kind, k) for kind, k in zip((*order.kinds, UUID), keys, strict=True)]
    except (TypeError, ValueError) as error:
        raise BadCursor("cursor is not one this API gave out") from error


def _key(kind: Any, value: Any) -> Any:
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    if kind is UUID:
        return UUID(value)
    raise TypeError("a cursor key of the wrong type")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_conditions(filters: InboxFilter, args: list[Any]) -> list[str]:
    """The SQL conditions on ``conversations`` (unqualified columns) that
    ``filters`` ask for; their arguments are appended to ``args``."""

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    conditions = [] if filters.include_deleted else ["NOT deleted"]
    for column in ("status", "priority", "channel", "client_id", "team_id"):
        if (value := getattr(filters, column)) is not None:
            conditions.append(f"{column} = {arg(value)}")
    if filters.q is not None:
        conditions.append(_named(arg(_like_escape(filters.q))))
    if filters.assignee_id == UNASSIGNED:
        conditions.append("assignee_id IS NULL")
    elif filters.assignee_id is not None:
        conditions.append(f"assignee_id = {arg(filters.assignee_id)}")
    if filters.label_ids:
        conditions.append(_with_labels(arg(list(filters.label_ids))))
    return conditions


def _named(pattern: str) -> str:
    """The rows whose client's name contains ``pattern`` (any case), found by
    the trigram index on the search projection's names (migration 008)."""
    return (
        "conversation_id IN (SELECT s.conversation_id FROM search_documents s"
        f" WHERE s.kind = 'conversation' AND s.client_name ILIKE '%' || {pattern} || '%')"
    )


def _with_labels(ids: str) -> str:
    """The rows carrying every label of ``ids`` (the GIN index), none of which
    was deleted: a deleted label is on no row (as the rows show them)."""
    return (
        f"labels @> {ids}::text[] AND NOT EXISTS (SELECT 1 FROM unnest({ids}::text[]) AS w(id)"
        " WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.label_id = w.id))"
    )


NAMED_FEW = 100
"""A name matching at most this many conversations is always paged from its
matches' ids (see :func:`_name_condition`)."""
_PROBE = """
SELECT conversation_id FROM search_documents
WHERE kind = 'conversation' AND client_name ILIKE '%' || $1 || '%' LIMIT $2
"""
_ROWS = "SELECT coalesce(sum(n), 0) FROM inbox_counts"
SAMPLE = 1_000
"""The most recently active conversations a name is first looked for in:
how many of them match tells a common name from a rare one."""
_SAMPLE = f"""
SELECT count(*) FROM (SELECT client_name FROM conversations ORDER BY activity_at DESC
                      LIMIT {SAMPLE}) s
WHERE client_name ILIKE '%' || $1 || '%'
"""


def named_few(page: int, rows: int) -> int:
    """How many matches of a name (out of ``rows`` conversations) are still
    few. Paging from the m matches' ids reads m rows; walking the sort's
    index with the name as a filter reads about page * rows / m. So the ids
    while m <= sqrt(page * rows), else the walk."""
    return max(NAMED_FEW, math.isqrt(page * rows))


async def _name_condition(pool: asyncpg.Pool, q: str, page: int, args: list[Any]) -> str:
    """The condition for ``q`` (the client's name contains it): its matches'
    ids when they are few (:func:`named_few`), else the name itself. A name
    common among the ``SAMPLE`` latest conversations is taken as common
    at once; otherwise the trigram index finds up to that many to tell
    (which, for a common name, would cost a bitmap of all its matches)."""
    pattern = _like_escape(q)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")  # rare or common
        rows = int(await conn.fetchval(_ROWS))
        few = named_few(page, rows)
        ids = None
        if int(await conn.fetchval(_SAMPLE, pattern)) * rows <= few * SAMPLE:
            ids = [r[0] for r in await conn.fetch(_PROBE, pattern, few + 1)]
    if ids is not None and len(ids) <= few:
        args.append(ids)
        return f"conversation_id = ANY(${len(args)}::uuid[])"
    args.append(pattern)
    return f"client_name ILIKE '%' || ${len(args)} || '%'"


async def list_conversations(
    pool: asyncpg.Pool,
    filters: InboxFilter,
    *,
    viewer: str | None,
    sort: Sort = Sort.LAST_MESSAGE,
    cursor: str | None = None,
    limit: int,
) -> ConversationPage:
    """A page of the inbox as ``viewer`` (a staff member's id) sees it."""
    order = _ORDERS[sort]
    keys = [*order.keys, "conversation_id"]
    direction = "DESC" if order.descending else "ASC"
    args: list[Any] = []
    conditions = where_conditions(msgspec.structs.replace(filters, q=None), args)
    if filters.q is not None:
        conditions.append(await _name_condition(pool, filters.q, limit, args))
    if cursor is not None:
        after = decode_cursor(sort, cursor)
        marks = ", ".join(f"${len(args) + i + 1}" for i in range(len(after)))
        args.extend(after)
        conditions.append(f"({', '.join(keys)}) {'<' if order.descending else '>'} ({marks})")
    args.append(viewer)
    # The limit is written into the statement, not passed: a generic plan
    # (after five runs of a prepared statement, or plan_cache_mode) must know
    # it to walk the sort's index for a page rather than sort the whole table.
    page = (
        f"SELECT * FROM conversations WHERE {' AND '.join(conditions) or 'true'}"
        f" ORDER BY {', '.join(f'{k} {direction}' for k in keys)} LIMIT {int(limit) + 1}"
    )
    sql = (
        f"SELECT {view_columns(f'${len(args)}')}, {', '.join(f'c.{k}' for k in order.keys)}"
        f" FROM ({page}) c {JOINS} ORDER BY {', '.join(f'c.{k} {direction}' for k in keys)}"
    )
    if filters.label_ids:  # how many carry them decides the plan: planned for these labels
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(sql, *args)
    else:
        rows = await pool.fetch(sql, *args)
    items = [view_of(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        keyed = [*(last[k] for k in order.keys), str(last["conversation_id"])]
        next_cursor = encode_cursor(sort, keyed)
    return ConversationPage(items=items, next_cursor=next_cursor)
