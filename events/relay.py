"""JetStreamRelay: publishes the event log to NATS JetStream, in commit order.

Exactly once, within JetStream's de-duplication window:

- It reads the log after its checkpoint and publishes each event, in order,
  with ``Nats-Msg-Id`` = the event id. Its checkpoint (in PostgreSQL) only
  ever moves to the *acknowledged frontier*: the highest position at and below
  which JetStream acknowledged every event. A crash anywhere — after a commit
  and before the publish, or after the publish and before the checkpoint — at
  worst republishes events JetStream has seen, and it drops those as
  duplicates.
- A failure — JetStream answering with an error (or a status such as "no
  responders" instead of an ack), no ack within ``ack_timeout``, or NATS
  refusing the publish — makes the relay resend everything from the first
  unacknowledged event on, in order, after a back-off (0.1 s doubling to 5 s).
  What is resent after an ack already came is dropped by JetStream as a
  duplicate.
- Exactly one relay publishes at a time: each holds a PostgreSQL session
  advisory lock on a connection of its own while it runs. Others wait for the
  lock; if the leader's process dies, PostgreSQL ends its session and frees
  the lock, and a waiting relay takes over from the checkpoint.
- NATS down: publishing fails, the relay retries with back-off; commands are
  unaffected (they only need PostgreSQL) and the backlog goes out when NATS
  returns.

Why not ``js.publish``
----------------------
``JetStreamContext.publish`` is a request/reply: for every message nats-py
mints a reply inbox, a future and an ``asyncio.wait_for`` timer, and gathering
500 of them costs several times the CPU of the publishing itself. The relay
instead publishes with plain ``nc.publish`` and a reply subject
``<inbox>.<n>``, receives every ack on *one* wildcard subscription
(``<inbox>.*``) and keeps a sliding window of at most ``window`` messages
unacknowledged (the window never waits for a whole batch: publishing goes on
while acks come back). Each reply number maps to the event it acknowledges;
after a failure the numbers in flight are forgotten, so a late ack of an
abandoned send is ignored and only the resend's acks count.

Checkpoints are saved by a task of their own, coalesced: when the frontier has
moved ``batch_size`` events past the last save, or when every published event
is acknowledged (the relay caught up), so publishing never waits for
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType

import asyncpg
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events import checkpoints
from events.envelope import RecordedEvent
from events.store import EventStore
from events.tasks import cancel_and_wait, until_stopped

log = logging.getLogger("parley.relay")

RELAY_LOCK_KEY = 0x5041524C_52454C41  # "PARLRELA"
CHECKPOINT = "relay"
_NO_FSYNC_WAIT = "synchronous_commit = off"
"""How checkpoints are saved: a checkpoint lost in a crash only makes the
relay republish what JetStream drops as duplicates."""
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Topology:
    """Where events go in NATS: stream ``<PREFIX>_EVENTS`` on subjects
    ``<prefix>.events.<conversation_id>.<EventType>``."""

    prefix: str = "parley"

    @property
    def stream(self) -> str:
        return f"{self.prefix.upper()}_EVENTS"

    @property
    def all_subjects(self) -> str:
        return f"{self.prefix}.events.>"

    def subject(self, event: RecordedEvent) -> str:
        return f"{self.prefix}.events.{event.data.conversation_id}.{event.type}"


async def ensure_stream(js: JetStreamContext, topology: Topology) -> None:
    """Create the events stream (file storage, 2-minute de-duplication window)."""
    config = StreamConfig(
        name=topology.stream,
        subjects=[topology.all_subjects],
        storage=StorageType.FILE,
        duplicate_window=120,
    )
    try:
        await js.stream_info(topology.stream)
    except NotFoundError:
        await js.add_stream(config)


# -- acknowledgements ----------------------------------------------------------------


class _PubAck(msgspec.Struct):
    """JetStream's reply to a publish: ``{"stream": …, "seq": …}`` (and
    ``"duplicate": true`` for a repeat it dropped), or ``{"error": {…}}``."""

    seq: int = 0
    error: dict[str, object] | None = None


_decode_ack = msgspec.json.Decoder(_PubAck).decode


def _refusal(reply: Msg) -> str | None:
    """Why ``reply`` is not JetStream acknowledging a stored message (None: it is)."""
    try:
        ack = _decode_ack(reply.data)
    except msgspec.DecodeError:  # e.g. an empty "503 no responders" status message
        status = (reply.headers or {}).get("Status", "none")
        return f"no JetStream ack (status {status}, reply {reply.data[:200]!r})"
    if ack.error is not None:
        return f"JetStream refused: {ack.error}"
    if ack.seq <= 0:
        return f"no JetStream ack: {reply.data[:200]!r}"
    return None


class _Failed(Exception):
    """Publishing failed: resend from the first unacknowledged event."""


class _Stopped(Exception):
    """``stop`` was set while waiting for acks."""


class _Flight:
    __slots__ = ("acked", "event", "sent")

    def __init__(self, event: RecordedEvent, sent: float) -> None:
        self.event = event
        self.sent = sent
        self.acked = False


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class _AckWindow:
    """Events published and not yet known to be stored, in publish (= commit) order.

    ``send`` publishes one event with reply subject ``<inbox>.<n>``; when
    ``size`` events are unacknowledged it first waits until a quarter of them
    are acknowledged (waking once per many acks, not once per ack). Acks come
    to ``_on_ack`` on one wildcard subscription. ``acked`` is the frontier: the
    position up to which every event is acknowledged. A refused or overdue ack
    raises ``_Failed`` from the next ``send``/``settle``; ``take_unacked`` then
    hands back every event from the first unacknowledged on, for a resend.
    """

    def __init__(
        self,
        nc: NATS,
        topology: Topology,
        stop: asyncio.Event,
        *,
        size: int,
        ack_timeout: float,
        acked: int,
        progress_every: int,
    ) -> None:
        self._nc = nc
        self._topology = topology
        self._stop = stop
        self._size = size
        self._resume_at = size - max(1, size // 4)
        self._ack_timeout = ack_timeout
        self._progress_every = progress_every
        self._loop = asyncio.get_running_loop()
        self._flights: deque[_Flight] = deque()
        self._pending: dict[int, _Flight] = {}  # reply number -> its event, until its ack
        self._numbers = itertools.count()
        self._failure: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wake_at = 0
        self._inbox = nc.new_inbox()
        self._number_at = len(self._inbox) + 1
        self._subscription: Subscription | None = None
        self._stop_watch: asyncio.Task[bool] | None = None
        self._reported = acked
        self.acked = acked
        """Every event at or below this position is acknowledged."""
        self.progress = asyncio.Event()
        """Set when ``acked`` moved ``progress_every`` past its last report, or
        when nothing is left unacknowledged: time to save the checkpoint."""

    async def __aenter__(self) -> _AckWindow:
        self._subscription = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self._stop_watch = watch = asyncio.create_task(self._stop.wait())
        watch.add_done_callback(lambda _: _wake(self._waiter))
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._stop_watch is not None:
            self._stop_watch.cancel()
        if self._subscription is not None:
            with contextlib.suppress(NatsError):
                await self._subscription.unsubscribe()

    async def send(self, event: RecordedEvent) -> None:
        """Publish ``event`` (after waiting for room); raises ``_Failed``/``_Stopped``."""
        if self._failure is not None:
            raise _Failed(self._failure)
        if len(self._flights) >= self._size:
            await self._wait_until_at_most(self._resume_at)
        number = next(self._numbers)
        flight = _Flight(event, self._loop.time())
        self._flights.append(flight)
        self._pending[number] = flight
        try:
            await self._nc.publish(
                self._topology.subject(event),
                _encode(event),
                reply=f"{self._inbox}.{number}",
                headers={
                    "Nats-Msg-Id": str(event.event_id),
                    "Nats-Expected-Stream": self._topology.stream,
                },
            )
        except (NatsError, OSError) as error:
            # Not sent (or not known to be): the caller sends it again.
            self._pending.pop(number, None)
            if self._flights and self._flights[-1] is flight:
                self._flights.pop()
            raise _Failed(f"publish refused: {error!r}") from error

    async def settle(self) -> None:
        """Wait until every event sent is acknowledged; raises ``_Failed``/``_Stopped``."""
        await self._wait_until_at_most(0)

    def take_unacked(self) -> list[RecordedEvent]:
        """Every event from the first unacknowledged on, in order, for a resend.
        Acks still to come for them are ignored from now on."""
        events = [flight.event for flight in self._flights]
        self._flights.clear()
        self._pending.clear()
        self._failure = None
        return events

    async def _wait_until_at_most(self, count: int) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            if self._failure is not None:
                raise _Failed(self._failure)
            if len(self._flights) <= count:
                return
            left = self._flights[0].sent + self._ack_timeout - self._loop.time()
            if left <= 0:
                raise _Failed(f"no ack within {self._ack_timeout:g} s")
            self._wake_at = count
            self._waiter = waiter = self._loop.create_future()
            timer = self._loop.call_later(left, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None

    async def _on_ack(self, reply: Msg) -> None:
        try:
            number = int(reply.subject[self._number_at :])
        except ValueError:
            return
        flight = self._pending.pop(number, None)
        if flight is None:
            return  # the ack of a send abandoned after a failure
        refusal = _refusal(reply)
        if refusal is not None:
            if self._failure is None:
                self._failure = refusal
            _wake(self._waiter)
            return
        flight.acked = True
        flights = self._flights
        if flights[0] is not flight:
            return  # an earlier event is still unacknowledged: the frontier stays
        while flights and flights[0].acked:
            self.acked = flights.popleft().event.global_position
        if not flights or self.acked >= self._reported + self._progress_every:
            self._reported = self.acked
            self.progress.set()
        if len(flights) <= self._wake_at:
            _wake(self._waiter)


# -- the relay -----------------------------------------------------------------------


class JetStreamRelay:
    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        nc: NATS,
        topology: Topology,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        window: int = 1000,
        ack_timeout: float = 5.0,
    ) -> None:
        self._store = store
        self._pool = pool
        self._nc = nc  # plain publishing with one reply subscription (see above)
        self._js = nc.jetstream()
        self._topology = topology
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._window_size = window
        self._ack_timeout = ack_timeout
        self.position = 0
        """The last position checkpointed: published and acknowledged, with
        everything before it (for status and tests)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; waits for leadership first."""
        async with self._leadership(stop) as leading:
            if not leading:
                return
            await ensure_stream(self._js, self._topology)
            async with self._pool.acquire() as conn:
                self.position = await checkpoints.load(conn, CHECKPOINT)
            log.info("relay leading from position %d", self.position)
            async with self._window(stop, acked=self.position) as window:
                checkpointing = asyncio.create_task(self._keep_checkpoint(window))
                try:
                    await self._relay(window, stop, checkpointing)
                finally:
                    await cancel_and_wait(checkpointing)
                # Stopped: keep what was acknowledged so far.
                if window.acked > self.position:
                    await self._save(window.acked)
                    self.position = window.acked

    async def _relay(
        self, window: _AckWindow, stop: asyncio.Event, checkpointing: asyncio.Task[None]
    ) -> None:
        last = self.position  # the last position handed to the window
        events = await self._read(last)
        while not stop.is_set():
            if checkpointing.done():
                checkpointing.result()  # a failed save fails the relay (and is retried)
            if not events:
                # Caught up: let every ack come in (so the checkpoint catches
                # up too), then wait for new events.
                if not await self._deliver(window, (), stop, settle=True):
                    return
                waiting = self._store.wait_for_events(last, self._poll_interval)
                await until_stopped(waiting, stop)
                events = await self._read(last)
                continue
            last = events[-1].global_position
            if len(events) < self._batch_size:  # the last page: nothing to read ahead
                if not await self._deliver(window, events, stop):
                    return
                events = []
                continue
            # Read the next page while this one is being published.
            ahead = asyncio.ensure_future(self._read(last))
            try:
                if not await self._deliver(window, events, stop):
                    return
                events = await ahead
            finally:
                ahead.cancel()

    async def _read(self, after: int) -> list[RecordedEvent]:
        return await self._store.read_all(after=after, limit=self._batch_size)

    def _window(self, stop: asyncio.Event, *, acked: int) -> _AckWindow:
        return _AckWindow(
            self._nc,
            self._topology,
            stop,
            size=self._window_size,
            ack_timeout=self._ack_timeout,
            acked=acked,
            progress_every=self._batch_size,
        )

    async def _keep_checkpoint(self, window: _AckWindow) -> None:
        """Save the acknowledged frontier whenever the window reports progress
        (one save at a time: progress made during a save goes into the next),
        on a connection of its own: one round trip per save."""
        async with self._pool.acquire() as conn:
            await conn.execute("SET " + _NO_FSYNC_WAIT)  # undone by the pool's reset
            while True:
                await window.progress.wait()
                window.progress.clear()
                position = window.acked
                if position > self.position:
                    await self._save(position, conn)
                    self.position = position

    async def _save(self, position: int, conn: checkpoints.Connection | None = None) -> None:
        """Move the checkpoint: on ``conn`` (the checkpointing task's), or on
        a connection from the pool (when stopping)."""
        if conn is not None:
            await checkpoints.save(conn, CHECKPOINT, position)
            return
        async with self._pool.acquire() as pooled, pooled.transaction():
            await pooled.execute("SET LOCAL " + _NO_FSYNC_WAIT)
            await checkpoints.save(pooled, CHECKPOINT, position)

    async def _deliver(
        self,
        window: _AckWindow,
        events: Sequence[RecordedEvent],
        stop: asyncio.Event,
        *,
        settle: bool = False,
    ) -> bool:
        """Send ``events`` through ``window`` in order (with ``settle``, also
        wait until every ack came). On a failure, everything from the first
        unacknowledged event on is sent again, in order, after a back-off: the
        stream keeps commit order, and what is resent after an ack is dropped
        by JetStream as a duplicate. False: ``stop`` came first."""
        queue = deque(events)
        delay = 0.1
        while True:
            try:
                while queue:
                    await window.send(queue[0])
                    queue.popleft()
                if settle:
                    await window.settle()
                return True
            except _Stopped:
                return False
            except _Failed as failure:
                queue.extendleft(reversed(window.take_unacked()))
                log.warning(
                    "relay: publish failed (%s); resending %d in %.1f s", failure, len(queue), delay
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                delay = min(delay * 2, 5.0)

    async def _publish_until_acked(
        self, events: Sequence[RecordedEvent], stop: asyncio.Event
    ) -> bool:
        """Publish ``events`` on a window of their own until JetStream
        acknowledged every one (resending on failure). False: stopped first."""
        if not events:
            return True
        async with self._window(stop, acked=events[0].global_position - 1) as window:
            return await self._deliver(window, events, stop, settle=True)

    @contextlib.asynccontextmanager
    async def _leadership(self, stop: asyncio.Event) -> AsyncIterator[bool]:
        """Hold the relay lock on a connection of our own (or give up at stop)."""
        async with self._pool.acquire() as conn:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._poll_interval)
                if stop.is_set():
                    yield False
                    return
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):
                    await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_KEY)
