"""Where the log's consumers stand: for `parley projections status` and /health/ready."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec


class ConsumerStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    position: int
    updated_at: datetime


_STATUS = """
SELECT name, position, updated_at FROM checkpoints ORDER BY name
"""
_HEAD = "SELECT coalesce(max(global_position), 0) FROM events"


async def read_status(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
) -> tuple[int, list[ConsumerStatus]]:
    """The head of the log and every consumer's checkpoint."""
    head = int(await conn.fetchval(_HEAD))
    rows = await conn.fetch(_STATUS)
    return head, [ConsumerStatus(**dict(r)) for r in rows]


CONSUMERS = ("relay", "inbox", "timeline")
"""Every consumer of the log the workers run."""


def stalled(
    head: int, consumers: list[ConsumerStatus], now: datetime, stall_seconds: float
) -> dict[str, str]:
    """The consumers that are behind the head and have not moved for
    ``stall_seconds``, with what is wrong (a silent stall is the failure
    operators of event stores complain about most)."""
    known = {c.name: c for c in consumers}
    problems: dict[str, str] = {}
    for name in CONSUMERS:
        consumer = known.get(name)
        if consumer is None:
            if head > 0:
                problems[name] = "has not started"
            continue
        idle = (now - consumer.updated_at).total_seconds()
        if consumer.position < head and idle > stall_seconds:
            problems[name] = f"stuck at {consumer.position} of {head}, no progress for {idle:.0f} s"
    return problems


async def consumer_status(url: str) -> tuple[int, list[ConsumerStatus]]:
    from parley.services import connect_postgres

    pool = await connect_postgres(url)
    try:
        async with pool.acquire() as conn:
            return await read_status(conn)
    finally:
        await pool.close()
