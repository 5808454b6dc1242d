"""Consumer checkpoints: how far the relay and each projection have got.

``save`` runs on the caller's connection, so a projection stores its
checkpoint in the same transaction as its read-model changes. The database
refuses to move a checkpoint back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy

_LOAD = "SELECT position FROM checkpoints WHERE name = $1"
_LOAD_FOR_UPDATE = _LOAD + " FOR UPDATE"
_ENSURE = "INSERT INTO checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"
_SAVE = "UPDATE checkpoints SET position = $2 WHERE name = $1"


async def load(conn: Connection, name: str, *, lock: bool = False) -> int:
    """The checkpoint (0 when new). ``lock`` holds its row until the
    transaction ends, so two workers of one consumer take turns."""
    query = _LOAD_FOR_UPDATE if lock else _LOAD
    position = await conn.fetchval(query, name)
    if position is None:  # a new consumer: its row first (one round trip, not two, after that)
        await conn.execute(_ENSURE, name)
        position = await conn.fetchval(query, name)
    return int(position)


async def save(conn: Connection, name: str, position: int) -> None:
    """Move the checkpoint to ``position``; raises if that is backwards."""
    await conn.execute(_SAVE, name, position)


async def wait_for_position(
    pool: asyncpg.Pool, names: Sequence[str], position: int, timeout: float
) -> int | None:
    """Wait until every named consumer's checkpoint is at ``position`` or past
    it. Returns ``None`` when they are, else the lowest position reached by
    the timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        reached = await pool.fetchval(
            "SELECT coalesce(min(position), 0) FROM checkpoints WHERE name = ANY($1::text[])"
            " HAVING count(*) = cardinality($1::text[])",
            list(names),
        )
        reached = int(reached or 0)
        if reached >= position:
            return None
        if time.monotonic() >= deadline:
            return reached
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.05)
