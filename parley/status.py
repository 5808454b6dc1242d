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


async def consumer_status(url: str) -> tuple[int, list[ConsumerStatus]]:
    from parley.services import connect_postgres

    pool = await connect_postgres(url)
    try:
        async with pool.acquire() as conn:
            return await read_status(conn)
    finally:
        await pool.close()
