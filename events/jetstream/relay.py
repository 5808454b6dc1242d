"""JetStreamRelay: publishes the event log to NATS JetStream, in commit order,
each event exactly once, however long an outage lasts.

- It reads the log after its checkpoint and publishes each event, in order,
  with ``Nats-Msg-Id`` = the event id (through ``AckWindow``, see there). Its
  checkpoint only ever moves to the *acknowledged frontier*: the highest
  position at and below which JetStream acknowledged every event.
- On start, and after any failure (an error ack, no ack within
  ``ack_timeout``, NATS refusing the publish), it asks the stream for its
  last message before sending anything again, and skips what the stream
  holds: an event whose ack was lost is not published twice, even after
  JetStream's de-duplication window (which it does not rely on) has passed.
  An event JetStream explicitly refused is sent again. Back-off: 0.1 s
  doubling to 1 s.
- Exactly one relay publishes at a time: each holds a PostgreSQL session
  advisory lock on a connection of its own while it runs, and stops when that
  connection breaks (the lock went with it). If the leader's process dies,
  PostgreSQL ends its session and a waiting relay takes over.
- NATS down: commands are unaffected (they only need PostgreSQL) and the
  backlog goes out in order when NATS returns.

Checkpoints are saved by a task of their own, coalesced (every ``batch_size``
events, or when everything sent is acknowledged), so publishing never waits
for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence

import asyncpg
import msgspec
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError

from events.envelope import RecordedEvent
from events.jetstream.ack_window import AckWindow, Failed, Stopped
from events.jetstream.topology import Topology, ensure_stream
from events.postgres import checkpoints
from events.postgres.pool import holds_session_state
from events.store import EventStore
from events.tasks import cancel_and_wait, pause, until_stopped

__all__ = ["CHECKPOINT", "RELAY_LOCK_KEY", "JetStreamRelay", "Topology", "ensure_stream"]

log = logging.getLogger("parley.relay")

RELAY_LOCK_KEY = 0x5041524C_52454C41  # "PARLRELA"
CHECKPOINT = "relay"
LEADERSHIP_POLL = 0.2
"""Seconds between a standby relay's tries for the lock: its takeover delay
after the leader dies (a try is one cheap statement)."""
_NO_FSYNC_WAIT = "synchronous_commit = off"
"""How checkpoints are saved: a checkpoint lost in a crash only makes the
relay republish what JetStream drops as duplicates."""


class _Position(msgspec.Struct):
    """The one field of a relayed event that reconciliation needs."""

    global_position: int


_decode_position = msgspec.json.Decoder(_Position).decode


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
        self._js = nc.jetstream(timeout=min(ack_timeout, _ASK_TIMEOUT))
        self._topology = topology
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._window_size = window
        self._ack_timeout = ack_timeout
        self.position = 0
        """The last position checkpointed: published and acknowledged, with
        everything before it (for status and tests)."""
        self._window_now: AckWindow | None = None

    @property
    def acknowledged(self) -> int:
        """The position up to which JetStream acknowledged everything (the
        checkpoint follows it in batches)."""
        return self.position if self._window_now is None else self._window_now.acked

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set or leadership is lost (its connection
        broke: another relay may lead now); waits for leadership first."""
        async with self._leadership(stop) as halt:
            if halt is None:
                return
            await ensure_stream(self._js, self._topology)
            async with self._pool.acquire() as conn:
                self.position = await checkpoints.load(conn, CHECKPOINT)
            stored = await self._last_stored()
            if stored > self.position:  # published before a crash, not checkpointed
                await self._save(stored)
                self.position = stored
            log.info("relay leading from position %d", self.position)
            async with self._window(halt, acked=self.position) as window:
                self._window_now = window
                checkpointing = asyncio.create_task(self._keep_checkpoint(window))
                try:
                    await self._relay(window, halt, checkpointing)
                finally:
                    self._window_now = None
                    await cancel_and_wait(checkpointing)
                # Stopped: keep what was acknowledged so far.
                if window.acked > self.position:
                    with contextlib.suppress(*_SAVE_ERRORS):  # lost: republished, deduplicated
                        async with asyncio.timeout(self._ack_timeout):
                            await self._save(window.acked)
                        self.position = window.acked

    async def _relay(
        self, window: AckWindow, stop: asyncio.Event, checkpointing: asyncio.Task[None]
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
        return await self._store.read_all_sealed(after=after, limit=self._batch_size)

    def _window(self, stop: asyncio.Event, *, acked: int) -> AckWindow:
        return AckWindow(
            self._nc,
            self._topology,
            stop,
            size=self._window_size,
            ack_timeout=self._ack_timeout,
            acked=acked,
            progress_every=self._batch_size,
        )

    async def _last_stored(self) -> int:
        """The position of the last event the stream holds (0: none). The
        relay publishes in commit order, so the stream holds every event up
        to it, except any JetStream explicitly refused."""
        info = await self._js.stream_info(self._topology.stream)
        if not info.state.last_seq:
            return 0
        message = await self._js.get_msg(self._topology.stream, seq=info.state.last_seq)
        return _decode_position(message.data or b"").global_position

    async def _keep_checkpoint(self, window: AckWindow) -> None:
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
        a connection from the pool (when starting and stopping)."""
        if conn is not None:
            await checkpoints.save(conn, CHECKPOINT, position)
            return
        async with self._pool.acquire() as pooled, pooled.transaction():
            await pooled.execute("SET LOCAL " + _NO_FSYNC_WAIT)
            await checkpoints.save(pooled, CHECKPOINT, position)

    async def _deliver(
        self,
        window: AckWindow,
        events: Sequence[RecordedEvent],
        stop: asyncio.Event,
        *,
        settle: bool = False,
    ) -> bool:
        """Send ``events`` through ``window`` in order (with ``settle``, also
        wait until every ack came). On a failure, everything from the first
        unacknowledged event on is taken back and, after a back-off and once
        the stream can say what it holds, sent again — except what the stream
        already holds (its ack was lost): however long the outage, nothing is
        stored twice. False: ``stop`` came first."""
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
            except Stopped:
                return False
            except Failed as failure:
                refused = window.refused
                queue.extendleft(reversed(window.take_unacked()))
                log.warning("relay: publish failed (%s); %d to resend", failure, len(queue))
                while True:  # until the stream answers what it holds
                    if not await pause(stop, delay):
                        return False
                    delay = min(delay * 2, 1.0)
                    try:
                        stored = await self._last_stored()
                        break
                    except (NatsError, TimeoutError, OSError) as error:
                        log.warning("relay: JetStream cannot say what it holds (%r)", error)
                while queue and queue[0].global_position <= stored:
                    if queue[0].global_position in refused:
                        break
                    window.mark_stored(queue.popleft().global_position)

    @contextlib.asynccontextmanager
    async def _leadership(self, stop: asyncio.Event) -> AsyncIterator[asyncio.Event | None]:
        """Hold the relay lock on a connection of our own (None: ``stop`` came
        first). Yields an event set at ``stop`` or when that connection breaks
        (the lock went with it)."""
        async with self._pool.acquire() as conn:
            holds_session_state(conn)  # the lock, if it gets it
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                if not await pause(stop, LEADERSHIP_POLL):
                    yield None
                    return
            halt = asyncio.Event()

            def lost(_: object) -> None:
                log.warning("relay: lost its PostgreSQL session (and the lead)")
                halt.set()

            conn.add_termination_listener(lost)
            watching = asyncio.create_task(stop.wait())
            watching.add_done_callback(lambda _: halt.set())
            try:
                yield halt
            finally:
                await cancel_and_wait(watching)
                with contextlib.suppress(Exception):
                    conn.remove_termination_listener(lost)
                    async with asyncio.timeout(1):
                        await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_KEY)


_ASK_TIMEOUT = 1.0
"""Seconds the relay waits for JetStream's API (stream info, a message): it
answers in milliseconds when it is there, and the relay asks again soon."""
_SAVE_ERRORS = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresError)
