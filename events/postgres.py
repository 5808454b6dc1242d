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

One lock means one commit (one fsync) at a time. To still append thousands of
events per second, concurrent ``append`` calls in this process are *grouped*:
they wait in a queue and a writer task commits all of them in one transaction
(group commit). Each append is still checked on its own (expected version,
idempotency) and fails or succeeds on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from events.envelope import AppendResult, Metadata, NewEvent, RecordedEvent
from events.store import ConcurrencyError, DuplicateEventError
from events.upcasting import current_version, decode_event

APPEND_LOCK_KEY = 0x5041524C_4C4F4721  # "PARLLOG!": the one lock every appender takes
NOTIFY_CHANNEL = "parley_events"

_encode = msgspec.json.Encoder().encode
_decode_metadata = msgspec.json.Decoder(Metadata).decode

# Under the lock: each stream's version and the head of the log, in one round trip.
_STATE = """
SELECT s.stream_id, coalesce(
           (SELECT e.stream_position FROM events e
            WHERE e.stream_id = s.stream_id
            ORDER BY e.stream_position DESC LIMIT 1), 0) AS version,
       (SELECT coalesce(max(global_position), 0) FROM events) AS head
FROM unnest($1::text[]) AS s(stream_id)
"""

# Which of a batch's event ids are stored already. Asked *before* the lock:
# the log is append-only, so what is found stays true; an id stored by someone
# else in between makes the COPY fail on its unique index, and every append of
# the batch is then retried alone (and finds it).
_KNOWN = """
SELECT event_id, stream_id, global_position, stream_position, type
FROM events WHERE event_id = ANY($1::uuid[])
"""

_COLUMNS = (
    "global_position",
    "stream_id",
    "stream_position",
    "event_id",
    "type",
    "schema_version",
    "data",
    "metadata",
)

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
    types: list[str]
    data: list[bytes]
    metadata: list[bytes]
    expected_version: int | None
    future: asyncio.Future[AppendResult] = field(repr=False)


@dataclass
class _Rows:
    """Column arrays for one COPY into the events table."""

    global_positions: list[int] = field(default_factory=list)
    stream_ids: list[str] = field(default_factory=list)
    stream_positions: list[int] = field(default_factory=list)
    event_ids: list[UUID] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    metadata: list[bytes] = field(default_factory=list)

    def columns(self) -> tuple[list[Any], ...]:
        return (
            self.global_positions,
            self.stream_ids,
            self.stream_positions,
            self.event_ids,
            self.types,
            [current_version(t) for t in self.types],
            self.data,
            self.metadata,
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
        if len(set(event_ids)) != len(event_ids):
            raise DuplicateEventError("the same event id appears twice in one append")
        self._ensure_writers()
        pending = _PendingAppend(
            stream_id=stream_id,
            event_ids=event_ids,
            types=[e.type for e in events],
            data=[_encode(e.data) for e in events],
            metadata=[_encode(e.metadata) for e in events],
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
        A ``None`` in the queue tells the writer to stop (see ``close``)."""
        while (first := await self._queue.get()) is not None:
            batch = [first]
            size = len(first.event_ids)
            while not self._queue.empty() and size < self._max_batch_events:
                pending = self._queue.get_nowait()
                if pending is None:  # keep the stop signal for the loop's next turn
                    self._queue.put_nowait(None)
                    break
                batch.append(pending)
                size += len(pending.event_ids)
            await self._commit_isolating_failures(batch)

    async def _commit_isolating_failures(self, batch: list[_PendingAppend]) -> None:
        """Commit a batch; if the transaction as a whole fails, retry each append
        alone so that one bad append cannot fail its neighbours."""
        try:
            outcomes = await self._commit(batch)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error)
                return
            for pending in batch:
                await self._commit_isolating_failures([pending])
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

    async def _commit(self, batch: list[_PendingAppend]) -> list[AppendResult | Exception]:
        started = time.perf_counter()
        outcomes = await self._commit_batch(batch)
        if self._on_commit is not None:
            written = sum(
                o.last_global_position - o.first_global_position + 1
                for o in outcomes
                if isinstance(o, AppendResult) and not o.replayed
            )
            self._on_commit(time.perf_counter() - started, written)
        return outcomes

    async def _commit_batch(self, batch: list[_PendingAppend]) -> list[AppendResult | Exception]:
        stream_ids = list({p.stream_id for p in batch})
        all_ids = [i for p in batch for i in p.event_ids]
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await _known(conn, all_ids)
            await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)
            # A new statement, so its snapshot sees the last lock holder's commit.
            state = await conn.fetch(_STATE, stream_ids)
            versions = {row["stream_id"]: row["version"] for row in state}
            head = state[0]["head"]

            rows = _Rows()
            outcomes: list[AppendResult | Exception] = []
            for pending in batch:
                outcome = _decide_append(pending, versions, stored, head, rows)
                if isinstance(outcome, AppendResult) and not outcome.replayed:
                    head = outcome.last_global_position
                    versions[pending.stream_id] = outcome.last_stream_position
                outcomes.append(outcome)
            await self._recheck_conflicts(conn, batch, outcomes)
            if rows.global_positions:
                await conn.copy_records_to_table(
                    "events", columns=_COLUMNS, records=zip(*rows.columns(), strict=True)
                )
        return outcomes

    async def _recheck_conflicts(
        self,
        conn: PoolConnectionProxy,
        batch: list[_PendingAppend],
        outcomes: list[AppendResult | Exception],
    ) -> None:
        """A conflict may be a retry whose events another process stored after
        our pre-lock look: look again, under the lock, for those (rare) ones."""
        conflicts = [i for i, o in enumerate(outcomes) if isinstance(o, ConcurrencyError)]
        if not conflicts:
            return
        stored = await _known(conn, [i for c in conflicts for i in batch[c].event_ids])
        for i in conflicts:
            found = [stored.get(event_id) for event_id in batch[i].event_ids]
            if any(found):
                outcomes[i] = _replay_of(batch[i], found)

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
        wakeup = self._wakeup
        assert wakeup is not None
        # Check after subscribing, so a commit in between is not missed.
        if await self.head_position() > after:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(wakeup), timeout)
        return self._notified_head > after or await self.head_position() > after

    async def _ensure_listening(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await self._pool.acquire()
        self._wakeup = asyncio.get_running_loop().create_future()
        await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)

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


class _Stored(NamedTuple):
    """Where an already stored event sits."""

    stream_id: str
    global_position: int
    stream_position: int
    type: str


async def _known(conn: PoolConnectionProxy, event_ids: list[UUID]) -> dict[UUID, _Stored]:
    """Where the events with these ids are stored (those that are)."""
    rows = await conn.fetch(_KNOWN, event_ids)
    return {
        r["event_id"]: _Stored(
            r["stream_id"], r["global_position"], r["stream_position"], r["type"]
        )
        for r in rows
    }


def _decide_append(
    pending: _PendingAppend,
    versions: dict[str, int],
    stored: dict[UUID, _Stored],
    head: int,
    rows: _Rows,
) -> AppendResult | Exception:
    """Decide one append of a batch, under the lock, against what the log and the
    batch so far hold; on success add its rows to ``rows``."""
    found = [stored.get(i) for i in pending.event_ids]
    if any(found):
        return _replay_of(pending, found)

    version = versions[pending.stream_id]
    if pending.expected_version is not None and pending.expected_version != version:
        return ConcurrencyError(pending.stream_id, pending.expected_version, version)

    n = len(pending.event_ids)
    for k, event_id in enumerate(pending.event_ids, start=1):
        rows.global_positions.append(head + k)
        rows.stream_ids.append(pending.stream_id)
        rows.stream_positions.append(version + k)
        rows.event_ids.append(event_id)
        rows.types.append(pending.types[k - 1])
        stored[event_id] = _Stored(pending.stream_id, head + k, version + k, pending.types[k - 1])
    rows.data.extend(pending.data)
    rows.metadata.extend(pending.metadata)
    return AppendResult(
        stream_id=pending.stream_id,
        first_stream_position=version + 1,
        last_stream_position=version + n,
        first_global_position=head + 1,
        last_global_position=head + n,
    )


def _replay_of(pending: _PendingAppend, found: list[_Stored | None]) -> AppendResult | Exception:
    """An append whose event ids are stored already: an idempotent retry if they
    were stored as this very append (same stream, types, consecutive), else an error."""
    first = found[0]
    same_append = first is not None and all(
        f is not None
        and f.stream_id == pending.stream_id
        and f.type == t
        and f.global_position == first.global_position + k
        and f.stream_position == first.stream_position + k
        for k, (f, t) in enumerate(zip(found, pending.types, strict=True))
    )
    if not same_append:
        return DuplicateEventError(
            f"event ids of this append to {pending.stream_id!r} are already stored, "
            "but not as this same append"
        )
    assert first is not None
    n = len(found)
    return AppendResult(
        stream_id=pending.stream_id,
        first_stream_position=first.stream_position,
        last_stream_position=first.stream_position + n - 1,
        first_global_position=first.global_position,
        last_global_position=first.global_position + n - 1,
        replayed=True,
    )


def _settle(pending: _PendingAppend, outcome: AppendResult | BaseException) -> None:
    if pending.future.done():  # the caller went away (cancelled)
        return
    if isinstance(outcome, AppendResult):
        pending.future.set_result(outcome)
    else:
        pending.future.set_exception(outcome)
