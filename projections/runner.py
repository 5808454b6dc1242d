"""ProjectionRunner: feeds one projection from its durable JetStream consumer.

Each batch is applied in one PostgreSQL transaction together with the
projection's checkpoint (its last global position), and acknowledged to
JetStream only after that commit. So:

- a re-delivered or old event (position at or below the checkpoint) is skipped;
- an event after a hole (position beyond checkpoint + 1) first back-fills the
  hole from the event store, in the same transaction;
- a crash between commit and ack only causes a re-delivery, which is skipped;
- with NATS down or silent, the runner catches up straight from the event
  store, so the read models never wait on the distribution channel.

Two runners of one projection take turns: the checkpoint row is locked for the
whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.envelope import RecordedEvent
from events.jetstream.topology import Topology, ensure_stream
from events.postgres import checkpoints
from events.postgres.key_ring import Keys, NoKeys
from events.store import EventStore
from events.tasks import until_stopped
from projections.base import Projection, apply_events, needed_by

log = logging.getLogger("parley.projections")

_decode = msgspec.json.Decoder(RecordedEvent).decode


def _position(event: RecordedEvent) -> int:
    return event.global_position


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        pool: asyncpg.Pool,
        store: EventStore,
        js: JetStreamContext,
        topology: Topology,
        *,
        batch_size: int = 500,
        idle_timeout: float = 1.0,
        keys: Keys | None = None,
    ) -> None:
        self.projection = projection
        self._keys: Keys = keys or NoKeys()
        """Opens the sealed events JetStream brings (the store's reads come opened)."""
        self._pool = pool
        self._store = store
        self._js = js
        self._topology = topology
        self._batch_size = batch_size
        self._idle_timeout = idle_timeout
        self.position = 0
        """The checkpoint as of the last batch this runner committed."""
        self._conn: PoolConnectionProxy | None = None  # its own, while running

    @property
    def consumer(self) -> str:
        return f"{self._topology.prefix}-{self.projection.name}"

    async def run(self, stop: asyncio.Event) -> None:
        """Project until ``stop`` is set, on a connection of its own (no
        acquire, reset and ``SET LOCAL`` round trips per batch)."""
        async with self._pool.acquire() as conn:
            await conn.execute("SET synchronous_commit = off")  # see _transaction
            self._conn = conn
            try:
                await self._project(stop)
            finally:
                self._conn = None  # the pool's reset undoes the SET

    async def _project(self, stop: asyncio.Event) -> None:
        await self.catch_up_from_store()
        subscription = None
        while not stop.is_set():
            try:
                if subscription is None:
                    # Bounded: while a cluster elects the consumer's leader the
                    # JetStream API may not answer for seconds; meanwhile the
                    # store keeps the read models going (the timeout below).
                    async with asyncio.timeout(self._idle_timeout):
                        subscription = await self._subscribe()
                fetching = subscription.fetch(self._batch_size, timeout=self._idle_timeout)
                messages = await until_stopped(fetching, stop)
                if messages is None:
                    return
            except (NatsTimeoutError, TimeoutError):
                await self.catch_up_from_store()  # quiet: make sure nothing was missed
                continue
            except NatsError as error:
                log.warning("%s: NATS unavailable (%s); reading the store", self.consumer, error)
                subscription = None
                await self.catch_up_from_store()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_timeout):
                        await stop.wait()
                continue
            events = sorted((_decode(m.data) for m in messages), key=_position)
            await self.apply(await self._keys.open(events, needed_by(self.projection)))
            for message in messages:
                with contextlib.suppress(NatsError):
                    await message.ack()

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        await ensure_stream(self._js, self._topology)
        return await self._js.pull_subscribe(
            self._topology.all_subjects,
            durable=self.consumer,
            stream=self._topology.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=10 * self._batch_size,
            ),
        )

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Apply a batch and move the checkpoint, in one transaction."""
        name = self.projection.name
        async with self._transaction() as conn:
            position = await checkpoints.load(conn, name, lock=True)
            start = position
            fresh: list[RecordedEvent] = []
            for event in sorted(events, key=lambda e: e.global_position):
                if event.global_position <= position:
                    continue  # re-delivered or already back-filled
                if event.global_position > position + 1:  # a hole: fill it first, in order
                    await apply_events(conn, self.projection, fresh)
                    fresh = []
                    position = await self._backfill(conn, position, event.global_position - 1)
                fresh.append(event)
                position = event.global_position
            await apply_events(conn, self.projection, fresh)
            if position > start:
                await checkpoints.save(conn, name, position)
        self.position = position

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[PoolConnectionProxy]:
        """The runner's own connection while it runs; otherwise (a test, a
        rebuild) one from the pool for the while."""
        if self._conn is not None:
            yield self._conn
            return
        async with self._pool.acquire() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[PoolConnectionProxy]:
        """A transaction whose commit does not wait for its fsync: rows and
        checkpoint are kept or lost together, and the log they come from is
        durable. (The runner's own connection has that set for its session.)"""
        async with self._connection() as conn, conn.transaction():
            if conn is not self._conn:
                await conn.execute("SET LOCAL synchronous_commit = off")
            yield conn

    async def _backfill(self, conn: checkpoints.Connection, after: int, up_to: int) -> int:
        """Apply the events in (after, up_to] from the event store."""
        log.info("%s: back-filling positions %d..%d", self.consumer, after + 1, up_to)
        while after < up_to:
            page = await self._store.read_all(
                after=after, limit=min(1000, up_to - after), needed=needed_by(self.projection)
            )
            if not page:
                break
            await apply_events(conn, self.projection, page)
            after = page[-1].global_position
        return after

    async def catch_up_from_store(self) -> None:
        """Apply whatever the log holds past the checkpoint."""
        while True:
            async with self._connection() as conn:
                self.position = await checkpoints.load(conn, self.projection.name)
            page = await self._store.read_all(
                after=self.position, limit=self._batch_size, needed=needed_by(self.projection)
            )
            if not page:
                return
            await self.apply(page)
