"""``include_total``: how many conversations an inbox filter matches.

The filters the inbox shows as tabs (status, priority, assignee — ``me``, an
agent, ``unassigned`` — team, deleted or not) are answered exactly from the
counters a trigger keeps (``inbox_counts``, projections/migrations/011): a
sum over a table of a few rows per agent, however many conversations there
are. A filter the counters do not cover (a client, a name, labels, a
channel) is counted on the rows, up to :data:`COUNT_LIMIT` of them: past
that, the total says "at least" (``exact`` false) rather than walk the whole
table."""

from __future__ import annotations

from typing import Any, NamedTuple

import asyncpg

from read_api.inbox_queries import UNASSIGNED, InboxFilter, where_conditions

COUNT_LIMIT = 1_000
"""Rows a filter the counters do not cover is counted up to."""


class Total(NamedTuple):
    rows: int
    exact: bool
    """False when ``rows`` is the limit it was counted to: at least that many match."""


def _counted(filters: InboxFilter) -> bool:
    return (
        filters.client_id is None
        and filters.q is None
        and filters.channel is None
        and not filters.label_ids
    )


def counters_statement(filters: InboxFilter) -> tuple[str, list[Any]]:
    """The sum over ``inbox_counts`` for a filter :func:`_counted` covers."""
    args: list[Any] = []
    conditions = [] if filters.include_deleted else ["NOT deleted"]
    for column in ("status", "priority", "team_id"):
        if (value := getattr(filters, column)) is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    if filters.assignee_id is not None:
        args.append("" if filters.assignee_id == UNASSIGNED else filters.assignee_id)
        conditions.append(f"assignee_id = ${len(args)}")
    where = " AND ".join(conditions) or "true"
    return f"SELECT coalesce(sum(n), 0)::bigint FROM inbox_counts WHERE {where}", args


async def count(pool: asyncpg.Pool, filters: InboxFilter, limit: int = COUNT_LIMIT) -> Total:
    if _counted(filters):
        sql, args = counters_statement(filters)
        return Total(await pool.fetchval(sql, *args), exact=True)
    args = []
    where = " AND ".join(where_conditions(filters, args))
    args.append(limit)
    limited = f"SELECT 1 FROM conversations WHERE {where} LIMIT ${len(args)}"
    found: int = await pool.fetchval(f"SELECT count(*) FROM ({limited}) c", *args)
    return Total(found, exact=found < limit)
