"""Reads from a PostgreSQL streaming replica (``PARLEY_READ_DATABASE_URL``).

:class:`ReadPools` says which pool a read goes to. Without a replica, the
primary's. With one, the replica's while it answers; a watcher asks it once a
second how far it has replayed and compares that with the primary's WAL, for
``/metrics`` and readiness. When the replica does not answer, reads go to the
primary (``PARLEY_READ_FALLBACK=primary``, the default) or are refused with
:class:`ReplicaUnavailable` (``refuse``: 503 ``replica_unavailable``), until
it answers again.

WebSocket replays read their first page where the log is replicated
(:class:`ReplicaLog`): a reconnect storm's shared reads land on the replica.
What a lagging replica has not replayed yet, the session reads from the
primary right after that page (``ws_edge/conversation_session.py``), so a
socket still gets every event once, in order.

Read-your-writes needs nothing more: a read with ``min_position`` waits
(bounded) for the read models' checkpoints *on the pool it reads*, and the
replica's checkpoints are the primary's as far as it has replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg

from events.envelope import RecordedEvent
from events.postgres.key_ring import Keys
from events.postgres.pool import create_pool
from events.postgres.store import PostgresEventStore

log = logging.getLogger("parley.replica")

CHECK_EVERY = 1.0
"""Seconds between two looks at the replica."""
CHECK_TIMEOUT = 2.0

_REPLAYED = "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS lsn"
_BEHIND = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::bigint"


class ReplicaUnavailable(Exception):
    """The replica does not answer and reads may not fall back to the primary."""

    code = "replica_unavailable"


@dataclass(frozen=True)
class ReplicaStatus:
    up: bool
    behind_bytes: int | None = None
    """WAL the primary has written that the replica has not replayed yet."""
    problem: str = ""


class ReadPools:
    """The primary's pool, and the replica's (opened by :meth:`start`) when
    ``replica_url`` is set."""

    def __init__(
        self,
        primary: asyncpg.Pool,
        replica_url: str | None = None,
        *,
        fallback: bool = True,
        check_every: float = CHECK_EVERY,
        max_size: int = 20,
        command_timeout: float | None = None,
    ) -> None:
        self.primary = primary
        self.replica: asyncpg.Pool | None = None
        self.replica_url = replica_url
        self.fallback = fallback
        self.status = ReplicaStatus(up=False, problem="not started")
        self._check_every = check_every
        self._max_size, self._command_timeout = max_size, command_timeout
        self._watcher: asyncio.Task[None] | None = None

    def pool(self) -> asyncpg.Pool:
        """Where a read goes now (raises :class:`ReplicaUnavailable`)."""
        if self.replica_url is None or self.replica is None:
            return self.primary
        if self.status.up:
            return self.replica
        if self.fallback:
            return self.primary
        raise ReplicaUnavailable(f"the read replica does not answer ({self.status.problem})")

    async def start(self) -> None:
        """Open the replica's pool (no connection yet: the replica may be down
        at start-up) and start watching it."""
        if self.replica_url is None or self.replica is not None:
            return
        self.replica = await create_pool(
            self.replica_url,
            min_size=0,
            max_size=self._max_size,
            command_timeout=self._command_timeout,
        )
        self.status = await self.check()
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self.replica is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await self.replica.close()
            self.replica = None

    async def check(self) -> ReplicaStatus:
        """Ask the replica how far it has replayed, and the primary how far
        that is behind its WAL (``None`` if the primary does not answer)."""
        assert self.replica is not None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                row = await self.replica.fetchrow(_REPLAYED)
        except Exception as error:  # down, refusing, frozen: the reads go elsewhere
            return ReplicaStatus(up=False, problem=str(error) or type(error).__name__)
        assert row is not None
        if not row["standby"] or row["lsn"] is None:
            return ReplicaStatus(up=True)  # a primary given as the replica: never behind
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                behind = await self.primary.fetchval(_BEHIND, row["lsn"])
        except Exception:
            behind = None
        return ReplicaStatus(up=True, behind_bytes=None if behind is None else max(0, behind))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._check_every)
            status = await self.check()
            if status.up != self.status.up:
                if status.up:
                    log.warning("read replica: answering again, reads go to it")
                else:
                    where = "the primary" if self.fallback else "nowhere (refused)"
                    log.warning("read replica: %s; reads go to %s", status.problem, where)
            self.status = status


class ReplicaLog:
    """The log's ``read_stream`` on the replica while it answers, else on the
    primary (a replay never needs the replica, whatever the fallback)."""

    def __init__(self, reads: ReadPools, keys: Keys) -> None:
        self._reads = reads
        self._keys = keys
        self._stores: dict[int, PostgresEventStore] = {}

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        reads = self._reads
        pool = reads.replica if reads.replica is not None and reads.status.up else reads.primary
        store = self._stores.get(id(pool))
        if store is None:
            store = self._stores[id(pool)] = PostgresEventStore(pool, keys=self._keys)
        return await store.read_stream(stream_id, after=after, limit=limit)
