"""JetStreamRelay: publishes the event log to NATS JetStream, in commit order.

Exactly once, within JetStream's de-duplication window:

- It reads the log after its checkpoint, publishes each event with
  ``Nats-Msg-Id`` = the event id, waits for every ack, and only then moves
  its checkpoint (in PostgreSQL). A crash anywhere — after a commit and before
  the publish, or after the publish and before the checkpoint — at worst
  republishes events JetStream has seen, and it drops those as duplicates.
- Exactly one relay publishes at a time: each holds a PostgreSQL session
  advisory lock on a connection of its own while it runs. Others wait for the
  lock; if the leader's process dies, PostgreSQL ends its session and frees
  the lock, and a waiting relay takes over from the checkpoint.
- NATS down: publishing fails, the relay retries with back-off; commands are
  unaffected (they only need PostgreSQL) and the backlog goes out when NATS
  returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import msgspec
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events import checkpoints
from events.envelope import RecordedEvent
from events.store import EventStore

log = logging.getLogger("parley.relay")
T = TypeVar("T")

RELAY_LOCK_KEY = 0x5041524C_52454C41  # "PARLRELA"
CHECKPOINT = "relay"
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


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``await work``, unless ``stop`` is set first (then ``None``; work cancelled)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


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


class JetStreamRelay:
    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        topology: Topology,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._pool = pool
        self._js = js
        self._topology = topology
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self.position = 0
        """The last position published and acknowledged (for status and tests)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; waits for leadership first."""
        async with self._leadership(stop) as leading:
            if not leading:
                return
            await ensure_stream(self._js, self._topology)
            async with self._pool.acquire() as conn:
                self.position = await checkpoints.load(conn, CHECKPOINT)
            log.info("relay leading from position %d", self.position)
            events = await self._read(self.position)
            while not stop.is_set():
                if not events:
                    waiting = self._store.wait_for_events(self.position, self._poll_interval)
                    await until_stopped(waiting, stop)
                    events = await self._read(self.position)
                    continue
                last = events[-1].global_position
                # Read the next page while this one is being published.
                ahead = asyncio.ensure_future(self._read(last))
                try:
                    if not await self._publish_until_acked(events, stop):
                        return  # stopped before every ack came: the checkpoint stays
                    await self._save(last)
                    events = await ahead
                finally:
                    ahead.cancel()
                self.position = last

    async def _read(self, after: int) -> list[RecordedEvent]:
        return await self._store.read_all(after=after, limit=self._batch_size)

    async def _save(self, position: int) -> None:
        """Move the checkpoint. No need to wait for its fsync: a checkpoint lost
        in a crash only makes the relay republish what JetStream de-duplicates."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await checkpoints.save(conn, CHECKPOINT, position)

    async def _publish_until_acked(
        self, events: Sequence[RecordedEvent], stop: asyncio.Event
    ) -> bool:
        """Publish until JetStream acknowledged every event. A retry resends
        from the first unacknowledged event on, in order: the stream keeps
        commit order, and what is resent after an ack is dropped by
        JetStream as a duplicate."""
        pending = list(events)
        delay = 0.1
        while not stop.is_set():
            outcomes = await asyncio.gather(
                *(self._publish(e) for e in pending), return_exceptions=True
            )
            first_failure = next((i for i, o in enumerate(outcomes) if o is not None), None)
            if first_failure is None:
                return True
            error = outcomes[first_failure]
            pending = pending[first_failure:]
            log.warning(
                "relay: publish failed (%s); resending %d in %.1f s", error, len(pending), delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 5.0)
        return False

    async def _publish(self, event: RecordedEvent) -> None:
        await self._js.publish(
            self._topology.subject(event),
            _encode(event),
            stream=self._topology.stream,
            headers={"Nats-Msg-Id": str(event.event_id)},
        )

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
