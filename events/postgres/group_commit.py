"""GroupCommitter: the event store's writers — appends queued, committed in
groups, and every one answered within a bound, whatever PostgreSQL does.

Group commit
------------
One append lock means one commit (one fsync) at a time, so concurrent appends
in this process wait in a queue and a writer task commits all of them in one
call of ``parley_append`` (``migrations/003_append_function.sql``), sent
outside an explicit transaction: the call takes the lock, decides every
append, inserts the rows and commits, in one round trip. Each append is still
checked on its own (expected version, idempotency) and fails or succeeds on
its own. The function looks up only each append's first event id (a retry is
found by it); an append whose later ids are stored fails the whole call on
the unique index, writing nothing, and the batch is then retried append by
append with every id looked up. One batch never holds an event id twice (a
concurrent retry waits for the next batch, where it is recognised as a replay).
Each writer holds a pool connection of its own (no acquire and reset per batch).

Faults — a definite answer, always
----------------------------------
Every append carries a deadline (``answer_within`` from when it was queued)
and every wait on the database is bounded by the earliest deadline of its
batch. When a connection breaks (killed backend, server restart, fail-over,
a frozen server timing out), the writer drops it, takes a new one and runs
the batch again *with every event id looked up*: an append whose commit went
through before the break is recognised as stored and answered with its
original positions (``replayed``), one that did not is written now. If the
deadline passes first, the append fails with :class:`StoreUnavailable` and was
not written by this attempt (or is stored and found by a retry with the same
ids: either way a retry is safe). A writer never dies: anything unexpected
fails its batch and the writer goes on with the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.envelope import AppendResult
from events.postgres.append_batch import APPEND, PendingAppend, batch_arguments, batch_outcome
from events.store import StoreUnavailable

log = logging.getLogger("parley.store")

CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # e.g. a connection the pool took back when it broke
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, cannot connect now, cancel
    asyncpg.exceptions.TooManyConnectionsError,  # the server's max_connections reached
)
"""What a lost, refused or frozen connection raises: worth a retry elsewhere."""

RETRY_AFTER = 1.0
"""Seconds a client is told to wait before retrying an unavailable append."""


def usable(conn: PoolConnectionProxy | None) -> bool:
    """Whether ``conn`` is still open (the pool detaches a broken one)."""
    try:
        return conn is not None and not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


class GroupCommitter:
    """``writers`` group commits in flight (one commits while the next waits
    for the lock, ready to go), each of at most ``max_batch_events``."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch_events: int,
        writers: int,
        answer_within: float,
        on_commit: Callable[[float, int], None] | None,
    ) -> None:
        self._pool = pool
        self._max_batch_events = max_batch_events
        self._writer_count = writers
        self._on_commit = on_commit
        self.answer_within = answer_within
        self._queue: asyncio.Queue[PendingAppend | None] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []

    async def submit(self, pending: PendingAppend) -> AppendResult:
        self._writers = [w for w in self._writers if not w.done()]  # none should die
        while len(self._writers) < self._writer_count:
            n = len(self._writers)
            self._writers.append(asyncio.create_task(self._write_loop(), name=f"writer-{n}"))
        await self._queue.put(pending)
        return await pending.future

    async def close(self) -> None:
        """Commit what is queued, then stop the writers."""
        for _ in self._writers:
            self._queue.put_nowait(None)
        await asyncio.gather(*self._writers, return_exceptions=True)
        self._writers = []

    async def _write_loop(self) -> None:
        """Take whatever is queued (up to the batch bound), commit it, repeat.
        A ``None`` in the queue tells the writer to stop (see ``close``)."""
        conn: PoolConnectionProxy | None = None
        next_ = await self._queue.get()
        try:
            while next_ is not None:
                batch, held_back = self._take_batch(next_)
                try:
                    conn = await self._commit_batch(conn, batch)
                except Exception as error:  # a bug: fail this batch, keep writing
                    log.exception("event store writer: a batch failed unexpectedly")
                    for pending in batch:
                        _settle(pending, error)
                next_ = held_back or self._queued_append()
                if next_ is None:
                    next_ = await self._queue.get()
        finally:
            await self._discard(conn, terminate=False)

    def _take_batch(self, first: PendingAppend) -> tuple[list[PendingAppend], PendingAppend | None]:
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

    def _queued_append(self) -> PendingAppend | None:
        """The next queued append, if any; a stop signal stays queued."""
        if self._queue.empty():
            return None
        pending = self._queue.get_nowait()
        if pending is None:  # keep the stop signal for the loop's next turn
            self._queue.put_nowait(None)
        return pending

    async def _commit_batch(
        self, conn: PoolConnectionProxy | None, batch: list[PendingAppend]
    ) -> PoolConnectionProxy | None:
        """Commit ``batch`` and answer every append in it, through broken
        connections, until the batch's deadline; returns the connection to
        keep (None when it broke)."""
        loop = asyncio.get_running_loop()
        check_every_id, delay = False, 0.05
        while batch := [p for p in batch if not p.future.done()]:
            left = min(p.deadline for p in batch) - loop.time()
            if left <= 0:
                unavailable = StoreUnavailable(
                    "the event store cannot reach PostgreSQL; retry with the same ids",
                    retry_after=RETRY_AFTER,
                )
                for pending in batch:
                    _settle(pending, unavailable)
                break
            try:
                if not usable(conn):
                    await self._discard(conn)
                    conn = await self._pool.acquire(timeout=left)
                assert conn is not None
                outcomes = await self._commit_isolating_failures(conn, batch, left, check_every_id)
            except CONNECTION_ERRORS as error:
                log.warning("event store writer: %r; retrying the batch", error)
                await self._discard(conn)
                conn = None
                check_every_id = True  # a commit may have gone through: look every id up
                await asyncio.sleep(min(delay, max(0.0, left - 0.01)))
                delay = min(delay * 2, 0.5)
                continue
            for pending, outcome in zip(batch, outcomes, strict=True):
                _settle(pending, outcome)
            break
        return conn

    async def _discard(self, conn: PoolConnectionProxy | None, *, terminate: bool = True) -> None:
        """Give ``conn`` back to the pool (closed first, unless it is healthy
        and ``terminate`` is off)."""
        if conn is None:
            return
        if terminate:
            with contextlib.suppress(Exception):
                conn.terminate()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):  # not wait_for: see events.postgres.pool.release
                await self._pool.release(conn)

    async def _commit_isolating_failures(
        self,
        conn: PoolConnectionProxy,
        batch: list[PendingAppend],
        timeout: float,
        check_every_id: bool,
    ) -> list[AppendResult | Exception]:
        """Commit a batch; if the call as a whole fails (it then wrote nothing),
        retry each append alone, looking up every event id, so that one bad
        append cannot fail its neighbours. A broken connection is raised."""
        try:
            return await self._commit(conn, batch, timeout, check_every_id=check_every_id)
        except CONNECTION_ERRORS:
            raise
        except Exception:
            return [await self._commit_alone(conn, pending, timeout) for pending in batch]

    async def _commit_alone(
        self, conn: PoolConnectionProxy, pending: PendingAppend, timeout: float
    ) -> AppendResult | Exception:
        try:
            [outcome] = await self._commit(conn, [pending], timeout, check_every_id=True)
        except CONNECTION_ERRORS:
            raise
        except Exception as error:
            return error
        return outcome

    async def _commit(
        self,
        conn: PoolConnectionProxy,
        batch: list[PendingAppend],
        timeout: float,
        *,
        check_every_id: bool,
    ) -> list[AppendResult | Exception]:
        """One group commit: one ``parley_append`` call, its own transaction."""
        started = time.perf_counter()
        arguments = batch_arguments(batch, check_every_id=check_every_id)
        rows = await conn.fetch(APPEND, *arguments, timeout=timeout)
        outcomes = [batch_outcome(p, row) for p, row in zip(batch, rows, strict=True)]
        if self._on_commit is not None:
            written = sum(
                o.last_global_position - o.first_global_position + 1
                for o in outcomes
                if isinstance(o, AppendResult) and not o.replayed
            )
            self._on_commit(time.perf_counter() - started, written)
        return outcomes


def _settle(pending: PendingAppend, outcome: AppendResult | BaseException) -> None:
    if pending.future.done():  # the caller went away (cancelled)
        return
    if isinstance(outcome, AppendResult):
        pending.future.set_result(outcome)
    else:
        pending.future.set_exception(outcome)
