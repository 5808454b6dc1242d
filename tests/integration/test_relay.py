"""The relay against real PostgreSQL and NATS JetStream, with its acks going
wrong: a JetStream error reply, an ack that never comes, a stop while acks are
missing. Whatever happens, the stream ends up holding every event of the log
exactly once, in commit order, and the checkpoint never passes an event
JetStream has not acknowledged."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import uuid4

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
)

from commands.model import stream_id_for
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent
from events.jetstream.relay import CHECKPOINT, JetStreamRelay, Topology
from events.postgres import checkpoints
from events.postgres.store import PostgresEventStore, create_pool
from tests.conftest import MakeDatabase
from tests.faultproxy import fault_proxy
from tests.nats_acks import AckTamper

_topologies = itertools.count()
EVENTS = 1200  # 12 conversations x 100 events
WINDOW = 64  # small, so that the window fills and slides many times
BATCH = 100


Journal = list[tuple[str, int, float]]
"""What happened to an ack (of an event at a position), and when."""
Tamper = Callable[[int, bytes], bytes | None]


@dataclass
class World:
    pool: asyncpg.Pool
    store: PostgresEventStore
    nc: NATS
    js: JetStreamContext
    topology: Topology
    nats_url: str

    def relay(self, nc: NATS | None = None, **options: float) -> JetStreamRelay:
        return JetStreamRelay(
            self.store,
            self.pool,
            nc or self.nc,
            self.topology,
            batch_size=BATCH,
            window=WINDOW,
            poll_interval=0.2,
            **options,  # type: ignore[arg-type]
        )

    @asynccontextmanager
    async def tampered_acks(self, journal: Journal, tamper: Tamper) -> AsyncIterator[NATS]:
        """A NATS connection through a proxy that routes every publish ack
        through ``tamper(position, ack)``: it returns the ack to deliver
        (maybe changed) or None to lose it. Each is noted with when it was
        forwarded: "acked", "changed" or "lost". (The stream holds the log in
        order, so an ack's stream sequence is the event's position.)"""

        def note(seq: int, ack: bytes) -> bytes | None:
            changed = tamper(seq, ack)
            what = "lost" if changed is None else "acked" if changed == ack else "changed"
            journal.append((what, seq, time.time()))
            return changed

        url = urlsplit(self.nats_url)
        assert url.hostname is not None and url.port is not None
        async with fault_proxy(url.hostname, url.port) as proxy:
            proxy.rewrite_replies(lambda: AckTamper(note))
            nc = await nats.connect(proxy.url("nats"))
            try:
                yield nc
            finally:
                await nc.close()

    async def checkpoint(self) -> int:
        async with self.pool.acquire() as conn:
            return await checkpoints.load(conn, CHECKPOINT)

    async def note_checkpoint_saves(self) -> None:
        """From now on the database notes every save of the relay's
        checkpoint, with when it was written (see :meth:`saves`)."""
        await self.pool.execute(_NOTE_SAVES)

    async def saves(self) -> list[tuple[int, float]]:
        """Every save of the relay's checkpoint noted so far, in order."""
        rows = await self.pool.fetch(
            "SELECT position, extract(epoch FROM at)::float8 AS at FROM checkpoint_saves"
            " WHERE name = $1 ORDER BY n",
            CHECKPOINT,
        )
        return [(row["position"], row["at"]) for row in rows]

    async def stream_ids(self) -> list[str]:
        """The ``Nats-Msg-Id`` of every message in the stream, in stream order."""
        total = (await self.js.stream_info(self.topology.stream)).state.messages
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
        reader = await self.js.pull_subscribe(
            self.topology.all_subjects, stream=self.topology.stream, config=config
        )
        ids: list[str] = []
        async with asyncio.timeout(30):
            while len(ids) < total:
                for message in await reader.fetch(500, timeout=5):
                    assert message.headers is not None
                    ids.append(message.headers["Nats-Msg-Id"])
        await reader.unsubscribe()
        return ids

    async def assert_stream_is_the_log(self) -> None:
        """Every event once, in commit order: nothing lost, nothing twice."""
        log = await self.store.read_all(after=0, limit=100_000)
        assert len(log) == EVENTS
        assert await self.stream_ids() == [str(e.event_id) for e in log]


_NOTE_SAVES = """
CREATE TABLE checkpoint_saves (
    n bigserial PRIMARY KEY,
    name text NOT NULL,
    position bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION note_checkpoint_save() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO checkpoint_saves (name, position) VALUES (NEW.name, NEW.position);
    RETURN NEW;
END $$;
CREATE TRIGGER note_checkpoint_save AFTER UPDATE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION note_checkpoint_save();
"""


@pytest.fixture
async def world(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str
) -> AsyncIterator[World]:
    pool = await create_pool(await make_database(), max_size=10)
    store = PostgresEventStore(pool)
    nc = await nats.connect(nats_url)
    topology = Topology(prefix=f"{nats_prefix}r{next(_topologies)}")
    try:
        await append_events(store, EVENTS)
        world = World(pool, store, nc, nc.jetstream(), topology, nats_url)
        await world.note_checkpoint_saves()
        yield world
    finally:
        await nc.close()
        await store.close()
        await pool.close()


async def append_events(store: PostgresEventStore, count: int) -> None:
    """``count`` events: conversations of a start and 99 messages each."""
    for _ in range(count // 100):
        cid = uuid4()
        started = ConversationStarted(
            conversation_id=cid,
            client=Client(id="c", name="C"),
            channel=Channel.WEB,
            priority=Priority.MEDIUM,
            status=Status.ACTIVE,
        )
        batch = [NewEvent(event_id=uuid4(), data=started, metadata=Metadata(actor_id="alice"))]
        for seq in range(1, 100):
            message = MessageSent(
                conversation_id=cid,
                message_id=uuid4(),
                seq=seq,
                sender=Side.ADMIN,
                sender_id="alice",
                content=f"m{seq}",
            )
            batch.append(NewEvent(event_id=uuid4(), data=message))
        await store.append(stream_id_for(cid), batch, 0)


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def when(journal: Journal, what: str, position: int) -> float:
    """When the first ``what`` of ``position`` happened."""
    return next(at for w, p, at in journal if (w, p) == (what, position))


async def test_the_relay_publishes_every_event_once_in_order_and_checkpoints_the_head(
    world: World,
) -> None:
    relay = world.relay()
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await until(lambda: relay.position == EVENTS)
    finally:
        stop.set()
        await task
    saved = [position for position, _ in await world.saves()]
    assert saved == sorted(set(saved)) and saved[-1] == EVENTS
    # Coalesced: a save per batch or when all is acknowledged, not one per ack.
    assert len(saved) < EVENTS // 10
    assert await world.checkpoint() == EVENTS
    await world.assert_stream_is_the_log()


ERROR_ACK = b'{"error":{"code":503,"err_code":10077,"description":"injected"}}'


async def test_a_refused_ack_is_resent_from_there_with_no_gap(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The first ack of position 300 is replaced by a JetStream error: the
    relay resends from 300 on, and no checkpoint at or past 300 is saved
    before 300's resend is acknowledged."""
    faulty = 300
    journal: Journal = []
    faults = 0

    def tamper(position: int, ack: bytes) -> bytes | None:
        nonlocal faults
        if position != faulty or faults:
            return ack
        faults += 1
        return ERROR_ACK

    caplog.set_level(logging.WARNING, logger="parley.relay")
    async with world.tampered_acks(journal, tamper) as nc:
        relay = world.relay(nc, ack_timeout=0.5)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await until(lambda: relay.position == EVENTS)
        finally:
            stop.set()
            await task

    assert faults == 1
    assert "injected" in caplog.text and "to resend" in caplog.text
    acked = when(journal, "acked", faulty)  # the resend's ack
    assert when(journal, "changed", faulty) < acked
    saves = await world.saves()
    assert all(p < faulty for p, at in saves if at < acked), (saves, acked)
    assert await world.checkpoint() == EVENTS
    await world.assert_stream_is_the_log()


async def test_a_lost_ack_is_not_resent_when_the_stream_holds_the_event(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The ack of position 300 is lost (the relay times out), though the
    stream stored it: the relay asks the stream what it holds and goes on
    from there, however long ago the original was sent (no reliance on the
    de-duplication window)."""
    faulty = 300
    journal: Journal = []

    def tamper(position: int, ack: bytes) -> bytes | None:
        lost = any(entry[:2] == ("lost", faulty) for entry in journal)
        return None if position == faulty and not lost else ack

    caplog.set_level(logging.WARNING, logger="parley.relay")
    async with world.tampered_acks(journal, tamper) as nc:
        relay = world.relay(nc, ack_timeout=0.5)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await until(lambda: relay.position == EVENTS)
        finally:
            stop.set()
            await task

    happened = [entry[:2] for entry in journal]
    assert ("lost", faulty) in happened
    assert "publish failed" in caplog.text
    assert ("acked", faulty) not in happened  # never sent again
    assert await world.checkpoint() == EVENTS
    await world.assert_stream_is_the_log()


async def test_jetstream_refusing_messages_holds_the_relay_back_until_it_accepts_them(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A real JetStream error reply: the stream is full (discard new) and
    refuses everything past 250; once the limit is lifted the relay resends
    from the first refused event, in order."""
    config = StreamConfig(
        name=world.topology.stream,
        subjects=[world.topology.all_subjects],
        storage=StorageType.FILE,
        duplicate_window=120,
        max_msgs=250,
        discard=DiscardPolicy.NEW,
    )
    await world.js.add_stream(config)
    relay = world.relay()
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="parley.relay")
    task = asyncio.create_task(relay.run(stop))
    try:
        await until(lambda: caplog.text.count("publish failed") >= 2)
        assert relay.position <= 250
        assert await world.checkpoint() <= 250
        assert (await world.js.stream_info(world.topology.stream)).state.messages == 250
        await world.js.update_stream(dataclasses.replace(config, max_msgs=-1))
        await until(lambda: relay.position == EVENTS)
    finally:
        stop.set()
        await task
    assert "maximum messages exceeded" in caplog.text
    await world.assert_stream_is_the_log()


async def test_a_stop_while_acks_are_missing_keeps_the_frontier_and_a_new_relay_finishes(
    world: World,
) -> None:
    """From position 500 on no ack arrives (and the timeout is long): a stop
    still ends the relay at once, its checkpoint is what was acknowledged
    (499), and the next relay (a restart) republishes from 500 with no event
    lost or stored twice."""
    journal: Journal = []

    def stuck() -> bool:  # everything before 500 acknowledged, 500 on lost
        happened = {entry[:2] for entry in journal}
        acked = {p for kind, p in happened if kind == "acked"}
        return ("lost", 500) in happened and len(acked & set(range(1, 500))) == 499

    async with world.tampered_acks(journal, lambda p, ack: None if p >= 500 else ack) as nc:
        relay = world.relay(nc, ack_timeout=60)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await until(stuck)  # the proxy passed them on ...
            await until(lambda: relay.acknowledged == 499)  # ... and the relay read them
        finally:
            stop.set()
            async with asyncio.timeout(2):
                await task
    assert relay.position == 499
    assert await world.checkpoint() == 499

    successor = world.relay()
    stop = asyncio.Event()
    task = asyncio.create_task(successor.run(stop))
    try:
        await until(lambda: successor.position == EVENTS)
    finally:
        stop.set()
        await task
    await world.assert_stream_is_the_log()


async def test_acks_withheld_past_the_duplicate_window_store_nothing_twice(
    world: World, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """JetStream stores what the relay sends but its acks do not come back for
    three times the (shortened) de-duplication window. Once they flow again
    the relay learns from the stream what it holds: a resend of those events
    would be stored a second time, since JetStream forgot their ids."""
    url = urlsplit(nats_url)
    assert url.hostname is not None and url.port is not None
    window = 1.0
    topology = Topology(prefix=world.topology.prefix, duplicate_window=window)
    caplog.set_level(logging.WARNING, logger="parley.relay")
    async with fault_proxy(url.hostname, url.port) as proxy:
        nc = await nats.connect(proxy.url("nats"))
        relay = JetStreamRelay(
            world.store, world.pool, nc, topology, batch_size=BATCH, window=WINDOW,
            poll_interval=0.2, ack_timeout=0.5,
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await until(lambda: relay.position == EVENTS)
            proxy.freeze_replies()
            frozen_at = asyncio.get_running_loop().time()
            await append_events(world.store, 300)
            await until(lambda: "publish failed" in caplog.text)
            # The fault's length is the point here: past the window, then on.
            await asyncio.sleep(
                max(0.0, frozen_at + 3 * window - asyncio.get_running_loop().time())
            )
            proxy.restore()
            await until(lambda: relay.position == EVENTS + 300)
        finally:
            stop.set()
            await task
            await nc.close()
    log = await world.store.read_all(after=0, limit=100_000)
    assert len(log) == EVENTS + 300
    assert await world.stream_ids() == [str(e.event_id) for e in log]
