"""A stream's turn across processes (:mod:`commands.turns`): a PostgreSQL
session advisory lock keyed by the stream id's hash, held on a pool
connection while the turn lasts. A process that dies drops its connection
and the lock with it; a turn given up mid-wait (the command's deadline)
closes its connection, which drops the lock too.

At most ``most`` turns are held or awaited at once per process (the others
wait for a slot, holding no connection): turns waiting on another process's
locks never take all of the pool from the reads and appends that would let
those locks go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from events.postgres.pool import bounded_connection

TURNS = 0x7061_726C  # "parl": the advisory lock class of stream turns (two-key form)
_LOCK = "SELECT pg_advisory_lock($1, hashtext($2))"
_UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2))"
WAIT_AT_MOST = 10.0
"""Seconds to wait for a turn (a command's own deadline is shorter)."""


class AdvisoryTurns:
    def __init__(self, pool: asyncpg.Pool, *, most: int = 3) -> None:
        self._pool = pool
        self._slots = asyncio.Semaphore(most)

    @asynccontextmanager
    async def take(self, stream_id: str) -> AsyncIterator[None]:
        async with self._slots, bounded_connection(self._pool, WAIT_AT_MOST) as (conn, left):
            await conn.execute(_LOCK, TURNS, stream_id, timeout=left())
            try:
                yield
            finally:
                await conn.execute(_UNLOCK, TURNS, stream_id)
