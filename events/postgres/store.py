"""PostgresEventStore: the event store on asyncpg.

Ordering — why readers never skip an event
------------------------------------------
A reader tails the log with ``global_position > last_seen``. If positions came
from a sequence, transaction A could take position 7, transaction B position 8,
B commit first, a reader see 8 and move on, and A's 7 commit later: skipped
for ever. So positions are not taken from a sequence. Every append transaction
first takes one advisory lock (``pg_advisory_xact_lock``), *then*, in a later
statement (so its snapshot sees the previous holder's commit), reads the
highest position and numbers its rows after it. The lock is released only
after the commit is visible, so positions become visible in increasing order
with no holes, and a rolled-back append leaves no hole either.

Writing — group commit, and an answer for every append
------------------------------------------------------
One lock means one commit (one fsync) at a time, so appends are grouped: see
``events/postgres/group_commit.py``, which also explains how every append gets a
definite answer within ``answer_within`` seconds when connections break.

Faults
------
Every wait on the database is bounded (``timeout``); a read that cannot reach
PostgreSQL raises :class:`StoreUnavailable`. The LISTEN connection is watched:
when it breaks, waiting tailers are woken and the next wait listens anew.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from events.envelope import AppendResult, Metadata, NewEvent, RecordedEvent
from events.postgres import reads
from events.postgres.append_batch import PendingAppend
from events.postgres.group_commit import GroupCommitter, usable
from events.postgres.key_ring import Keys, NoKeys
from events.postgres.pool import (
    CONNECT_TIMEOUT,
    bounded_connection,
    create_pool,
    holds_session_state,
    init_connection,
    release,
)
from events.store import DuplicateEventError, Needed
from events.upcasting import current_version

__all__ = [
    "APPEND_LOCK_KEY",
    "CONNECT_TIMEOUT",
    "NOTIFY_CHANNEL",
    "PostgresEventStore",
    "bounded_connection",
    "create_pool",
    "init_connection",
]

APPEND_LOCK_KEY = 0x5041524C_4C4F4721  # "PARLLOG!": the one lock every appender takes
"""Also written into ``parley_append`` (migrations/003_append_function.sql)."""
NOTIFY_CHANNEL = "parley_events"
_HEAD = "SELECT coalesce(max(global_position), 0) FROM events"

_encode = msgspec.json.Encoder().encode


class PostgresEventStore:
    """The :class:`events.store.EventStore` port on PostgreSQL.

    ``max_batch_events`` bounds one group commit; ``writers`` is how many
    group commits this process keeps in flight; ``answer_within`` bounds how
    long an append waits for its answer when PostgreSQL is away; ``timeout``
    bounds every read; ``keys`` seals personal data on append and opens it on
    read (:mod:`events.postgres.keys`; by default nothing is sealed).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch_events: int = 2000,
        writers: int = 2,
        on_commit: Callable[[float, int], None] | None = None,
        answer_within: float = 4.0,
        timeout: float = 5.0,
        keys: Keys | None = None,
    ):
        self._pool = pool
        self._keys: Keys = keys or NoKeys()
        self._timeout = timeout
        self._committer = GroupCommitter(
            pool,
            max_batch_events=max_batch_events,
            writers=writers,
            answer_within=answer_within,
            on_commit=on_commit,
        )
        """Told (seconds, events written) after each group commit (for metrics)."""
        self._listener: PoolConnectionProxy | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._listening = asyncio.Lock()
        self._notified_head = 0

    # -- writing ---------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
    ) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        event_ids = [e.event_id for e in events]
        id_set = frozenset(event_ids)
        if len(id_set) != len(event_ids):
            raise DuplicateEventError("the same event id appears twice in one append")
        types = [e.type for e in events]
        versions = [current_version(t) for t in types]
        data = await self._keys.stored(events, versions)
        loop = asyncio.get_running_loop()
        return await self._committer.submit(
            PendingAppend(
                stream_id=stream_id,
                event_ids=event_ids,
                id_set=id_set,
                types=types,
                schema_versions=versions,
                data=data,
                metadata=_encode_metadata(events),
                expected_version=expected_version,
                deadline=loop.time() + self._committer.answer_within,
                future=loop.create_future(),
            )
        )

    # -- reading ---------------------------------------------------------------

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            rows = await conn.fetch(reads.STREAM, stream_id, after, limit, timeout=left())
        return [reads.joined(r, self._keys) for r in rows]

    async def read_all(
        self, *, after: int = 0, limit: int = 1000, needed: Needed | None = None
    ) -> list[RecordedEvent]:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            rows = await conn.fetch(reads.LOG, after, limit, timeout=left())
            return await reads.opened_page(conn, rows, self._keys, left(), needed)

    async def read_all_sealed(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            rows = await conn.fetch(reads.LOG, after, limit, timeout=left())
        return [reads.as_stored(r) for r in rows]

    async def find_event(self, event_id: UUID) -> RecordedEvent | None:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            row = await conn.fetchrow(reads.BY_ID, event_id, timeout=left())
        return None if row is None else reads.joined(row, self._keys)

    async def stream_version(self, stream_id: str) -> int:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            version = await conn.fetchval(
                "SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $1",
                stream_id,
                timeout=left(),
            )
        return int(version)

    async def head_position(self) -> int:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            head = await conn.fetchval(_HEAD, timeout=left())
        return int(head)

    async def wait_for_events(self, after: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._notified_head <= after:
            await self._ensure_listening()  # reads the head when it (re)starts listening
            left = deadline - loop.time()
            if self._notified_head > after or left <= 0:
                break
            wakeup = self._wakeup
            assert wakeup is not None
            # asyncio.wait, not wait_for: on Python 3.11 wait_for loses a
            # cancellation that lands in the turn the wake-up comes (a Ctrl-C
            # on `parley events tail --follow` then hung it; events/tasks.py).
            await asyncio.wait({wakeup}, timeout=left)
            # Woken with no news: the listening connection broke; listen anew.
        return self._notified_head > after or await self.head_position() > after

    async def _ensure_listening(self) -> None:
        if usable(self._listener):
            return
        # One at a time: two tailers (the relay and the router in a worker)
        # starting to listen together would each take a connection, and the
        # one overwritten would never go back to the pool.
        async with self._listening:
            if not usable(self._listener):
                await self._listen()

    async def _listen(self) -> None:
        await self._stop_listening()
        async with bounded_connection(self._pool, self._timeout, keep=True) as (listener, left):
            self._wakeup = asyncio.get_running_loop().create_future()
            async with asyncio.timeout(left()):  # on a timeout the connection is closed
                holds_session_state(listener)
                await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
            listener.add_termination_listener(self._on_listener_lost)
            # Every commit from now on sends a notice; the head covers the
            # ones before. So from here on, the notices alone tell whether
            # there is anything past a caller's last read: no query per wait.
            head = await listener.fetchval(_HEAD, timeout=left())
        self._listener = listener
        self._notified_head = max(self._notified_head, int(head))

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        with contextlib.suppress(ValueError):
            self._notified_head = max(self._notified_head, int(str(payload)))
        self._wake_waiters()

    def _on_listener_lost(self, _conn: object) -> None:
        """The LISTEN connection broke: notices may be lost until the next
        wait listens again, so wake the waiters to look at the head."""
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        wakeup, self._wakeup = self._wakeup, asyncio.get_running_loop().create_future()
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        if usable(listener):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):  # not wait_for: see pool.release
                    await listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
        await release(self._pool, listener)

    # -- lifecycle -------------------------------------------------------------

    async def close(self) -> None:
        """Commit what is queued, stop the writers, and stop listening."""
        await self._committer.close()
        await self._stop_listening()


def _encode_metadata(events: Sequence[NewEvent]) -> list[bytes]:
    """Each event's metadata as JSON; the events of one command usually share
    one metadata object, which is then encoded once."""
    encoded: list[bytes] = []
    last: tuple[Metadata, bytes] | None = None
    for event in events:
        if last is None or event.metadata is not last[0]:
            last = (event.metadata, _encode(event.metadata))
        encoded.append(last[1])
    return encoded
