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

Group commit — why one lock still gives thousands of appends per second
-----------------------------------------------------------------------
One lock means one commit (one fsync) at a time. So concurrent ``append``
calls in this process are *grouped*: they wait in a queue and a writer task
commits all of them in one transaction. Each append is still checked on its
own (expected version, idempotency) and fails or succeeds on its own.

A group commit is one call of the ``parley_append`` database function
(``migrations/003_append_function.sql``), sent outside an explicit
transaction: the call takes the lock, decides every append, inserts the rows
and commits, in one round trip. The lock is therefore never held while the
server waits for this process (whose event loop may be busy encoding the next
batch), and the next writer's call, already sent and parsed, waits at the lock
inside the server and runs the moment it is free. Each writer holds a pool
connection of its own for its life (no acquire and reset per batch).

The function looks up only each append's first event id (a retry is found by
it). An append whose later ids are stored fails the whole call on the unique
index, writing nothing; the batch is then retried append by append with every
id looked up, so one bad append cannot fail its neighbours and gets the same
answer (``DuplicateEventError``) as before. The writer never puts one event id
in two appends of one batch (a concurrent retry waits for the next batch, where
it is recognised as a replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from events.envelope import AppendResult, Metadata, NewEvent, RecordedEvent
from events.store import ConcurrencyError, DuplicateEventError
from events.upcasting import current_version, decode_event

APPEND_LOCK_KEY = 0x5041524C_4C4F4721  # "PARLLOG!": the one lock every appender takes
"""Also written into ``parley_append`` (migrations/003_append_function.sql)."""
NOTIFY_CHANNEL = "parley_events"

_encode = msgspec.json.Encoder().encode
_decode_metadata = msgspec.json.Decoder(Metadata).decode

# One group commit: see migrations/003_append_function.sql for the arguments
# and the outcome rows (one per append, in order).
_APPEND = """
SELECT outcome, first_stream_position, first_global_position, actual_version, recorded_at
FROM parley_append(
    stream_ids => $1::text[],
    expected_versions => $2::integer[],
    event_counts => $3::integer[],
    event_ids => $4::uuid[],
    event_types => $5::text[],
    event_schema_versions => $6::smallint[],
    event_data => $7::jsonb[],
    event_metadata => $8::jsonb[],
    check_every_id => $9::boolean
)
"""

_SELECT_COLUMNS = """
SELECT global_position, stream_id, stream_position, event_id, type, schema_version, data,
       metadata, recorded_at
FROM events
"""
_READ_STREAM = (
    _SELECT_COLUMNS
    + """
WHERE stream_id = $1 AND stream_position > $2 ORDER BY stream_position LIMIT $3
"""
)
_READ_ALL = (
    _SELECT_COLUMNS
    + """
WHERE global_position > $1 ORDER BY global_position LIMIT $2
"""
)


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: jsonb travels as raw JSON bytes (msgspec does the
    (de)serialising), skipping asyncpg's str round trip."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="binary",
        encoder=lambda data: b"\x01" + data,
        decoder=lambda data: data[1:],
    )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A connection pool set up the way the store expects."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection
    )
    assert pool is not None
    return pool


def _to_recorded(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_position=row["stream_position"],
        event_id=row["event_id"],
        type=row["type"],
        data=decode_event(row["type"], row["schema_version"], row["data"]),
        metadata=_decode_metadata(row["metadata"]),
        recorded_at=row["recorded_at"],
    )


@dataclass(eq=False)
class _PendingAppend:
    """One caller's append, waiting in the queue for the next group commit."""

    stream_id: str
    event_ids: list[UUID]
    id_set: frozenset[UUID]
    types: list[str]
    schema_versions: list[int]
    data: list[bytes]
    metadata: list[bytes]
    expected_version: int | None
    future: asyncio.Future[AppendResult] = field(repr=False)


def _arguments(batch: Sequence[_PendingAppend], *, check_every_id: bool) -> tuple[Any, ...]:
    """A batch as the parallel arrays ``parley_append`` takes: per append, then
    per event (the appends' events concatenated)."""
    event_ids: list[UUID] = []
    types: list[str] = []
    schema_versions: list[int] = []
    data: list[bytes] = []
    metadata: list[bytes] = []
    for pending in batch:
        event_ids += pending.event_ids
        types += pending.types
        schema_versions += pending.schema_versions
        data += pending.data
        metadata += pending.metadata
    return (
        [p.stream_id for p in batch],
        [p.expected_version for p in batch],
        [len(p.event_ids) for p in batch],
        event_ids,
        types,
        schema_versions,
        data,
        metadata,
        check_every_id,
    )


def _outcome(pending: _PendingAppend, row: asyncpg.Record) -> AppendResult | Exception:
    """What one outcome row of ``parley_append`` means for the caller."""
    outcome = row["outcome"]
    if outcome == "conflict":
        assert pending.expected_version is not None
        return ConcurrencyError(pending.stream_id, pending.expected_version, row["actual_version"])
    if outcome == "duplicate":
        return DuplicateEventError(
            f"event ids of this append to {pending.stream_id!r} are already stored, "
            "but not as this same append"
        )
    first_stream, first_global = row["first_stream_position"], row["first_global_position"]
    n = len(pending.event_ids)
    return AppendResult(
        stream_id=pending.stream_id,
        first_stream_position=first_stream,
        last_stream_position=first_stream + n - 1,
        first_global_position=first_global,
        last_global_position=first_global + n - 1,
        replayed=outcome == "replayed",
        recorded_at=row["recorded_at"],
    )


class PostgresEventStore:
    """The :class:`events.store.EventStore` port on PostgreSQL.

    ``max_batch_events`` bounds one group commit; ``writers`` is how many
    group commits this process keeps in flight (one commits while the next
    waits for the lock, ready to go).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch_events: int = 2000,
        writers: int = 2,
        on_commit: Callable[[float, int], None] | None = None,
    ):
        self._pool = pool
        self._on_commit = on_commit
        """Told (seconds, events written) after each group commit (for metrics)."""
        self._max_batch_events = max_batch_events
        self._writer_count = writers
        self._queue: asyncio.Queue[_PendingAppend | None] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []
        self._listener: PoolConnectionProxy | None = None
        self._wakeup: asyncio.Future[None] | None = None
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
        self._ensure_writers()
        types = [e.type for e in events]
        pending = _PendingAppend(
            stream_id=stream_id,
            event_ids=event_ids,
            id_set=id_set,
            types=types,
            schema_versions=[current_version(t) for t in types],
            data=[_encode(e.data) for e in events],
            metadata=_encode_metadata(events),
            expected_version=expected_version,
            future=asyncio.get_running_loop().create_future(),
        )
        await self._queue.put(pending)
        return await pending.future

    def _ensure_writers(self) -> None:
        if not self._writers:
            self._writers = [
                asyncio.create_task(self._write_loop(), name=f"event-store-writer-{i}")
                for i in range(self._writer_count)
            ]

    async def _write_loop(self) -> None:
        """Take whatever is queued (up to the batch bound), commit it, repeat.
        A ``None`` in the queue tells the writer to stop (see ``close``).

        The writer holds one pool connection for its life (a new one if that
        one breaks): giving it back after each batch would cost a reset round
        trip per commit at a low rate, run while the callers fan out."""
        conn: PoolConnectionProxy | None = None
        next_ = await self._queue.get()
        try:
            while next_ is not None:
                if conn is None or conn.is_closed():
                    if conn is not None:
                        with contextlib.suppress(Exception):  # the pool drops a broken one
                            await self._pool.release(conn)
                        conn = None
                    try:
                        conn = await self._pool.acquire()
                    except Exception as error:  # no connection to be had: fail what waits now
                        batch, next_ = self._take_batch(next_)
                        for pending in batch:
                            _settle(pending, error)
                        if next_ is None:
                            next_ = await self._queue.get()
                        continue
                batch, held_back = self._take_batch(next_)
                await self._commit_isolating_failures(conn, batch)
                next_ = held_back or self._queued_append()
                if next_ is None:
                    next_ = await self._queue.get()
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await self._pool.release(conn)

    def _take_batch(
        self, first: _PendingAppend
    ) -> tuple[list[_PendingAppend], _PendingAppend | None]:
        """``first`` and what is queued behind it, up to the batch bound. An
        append sharing an event id with one already taken is held back (and
        returned) for the next batch: one batch never holds an id twice."""
        batch, ids, size = [first], set(first.id_set), len(first.event_ids)
        while size < self._max_batch_events and (pending := self._queued_append()) is not None:
            if not ids.isdisjoint(pending.id_set):
                return batch, pending
            batch.append(pending)
            ids |= pending.id_set
            size += len(pending.event_ids)
        return batch, None

    def _queued_append(self) -> _PendingAppend | None:
        """The next queued append, if any; a stop signal stays queued."""
        if self._queue.empty():
            return None
        pending = self._queue.get_nowait()
        if pending is None:  # keep the stop signal for the loop's next turn
            self._queue.put_nowait(None)
        return pending

    async def _commit_isolating_failures(
        self, conn: PoolConnectionProxy, batch: list[_PendingAppend]
    ) -> None:
        """Commit a batch; if the call as a whole fails (it then wrote nothing),
        retry each append alone, looking up every event id, so that one bad
        append cannot fail its neighbours."""
        try:
            outcomes = await self._commit(conn, batch, check_every_id=False)
        except Exception:
            outcomes = [await self._commit_alone(conn, pending) for pending in batch]
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

    async def _commit_alone(
        self, conn: PoolConnectionProxy, pending: _PendingAppend
    ) -> AppendResult | Exception:
        try:
            [outcome] = await self._commit(conn, [pending], check_every_id=True)
        except Exception as error:
            return error
        return outcome

    async def _commit(
        self, conn: PoolConnectionProxy, batch: list[_PendingAppend], *, check_every_id: bool
    ) -> list[AppendResult | Exception]:
        """One group commit: one ``parley_append`` call, its own transaction."""
        started = time.perf_counter()
        rows = await conn.fetch(_APPEND, *_arguments(batch, check_every_id=check_every_id))
        outcomes = [_outcome(p, row) for p, row in zip(batch, rows, strict=True)]
        if self._on_commit is not None:
            written = sum(
                o.last_global_position - o.first_global_position + 1
                for o in outcomes
                if isinstance(o, AppendResult) and not o.replayed
            )
            self._on_commit(time.perf_counter() - started, written)
        return outcomes

    # -- reading ---------------------------------------------------------------

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._pool.fetch(_READ_STREAM, stream_id, after, limit)
        return [_to_recorded(r) for r in rows]

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._pool.fetch(_READ_ALL, after, limit)
        return [_to_recorded(r) for r in rows]

    async def find_event(self, event_id: UUID) -> RecordedEvent | None:
        row = await self._pool.fetchrow(_SELECT_COLUMNS + "WHERE event_id = $1", event_id)
        return None if row is None else _to_recorded(row)

    async def stream_version(self, stream_id: str) -> int:
        version = await self._pool.fetchval(
            "SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $1",
            stream_id,
        )
        return int(version)

    async def head_position(self) -> int:
        head = await self._pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
        return int(head)

    async def wait_for_events(self, after: int, timeout: float) -> bool:
        if self._notified_head > after:
            return True
        await self._ensure_listening()
        if self._notified_head > after:
            return True
        wakeup = self._wakeup
        assert wakeup is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(wakeup), timeout)
        return self._notified_head > after or await self.head_position() > after

    async def _ensure_listening(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await self._pool.acquire()
        self._wakeup = asyncio.get_running_loop().create_future()
        await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        # Every commit from now on sends a notice; the head covers the ones
        # before. So from here on, the notices alone tell whether there is
        # anything past a caller's last read: no query per wait.
        self._notified_head = max(self._notified_head, await self.head_position())

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        with contextlib.suppress(ValueError):
            self._notified_head = max(self._notified_head, int(str(payload)))
        wakeup, self._wakeup = self._wakeup, asyncio.get_running_loop().create_future()
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    # -- lifecycle -------------------------------------------------------------

    async def close(self) -> None:
        """Commit what is queued, stop the writers, and stop listening."""
        for _ in self._writers:
            self._queue.put_nowait(None)
        await asyncio.gather(*self._writers)
        self._writers = []
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(self._listener)
            self._listener = None


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


def _settle(pending: _PendingAppend, outcome: AppendResult | BaseException) -> None:
    if pending.future.done():  # the caller went away (cancelled)
        return
    if isinstance(outcome, AppendResult):
        pending.future.set_result(outcome)
    else:
        pending.future.set_exception(outcome)
