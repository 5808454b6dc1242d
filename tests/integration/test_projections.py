"""Projections against real PostgreSQL and NATS: the read models equal an
independent fold of the log, whichever way the events arrive."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import nats
import pytest

from commands.handler import CommandHandler
from commands.model import (
    Actor,
    ChangeStatus,
    DeleteConversation,
    MarkRead,
    Role,
    SendMessage,
    StartConversation,
    UpdateConversation,
)
from events.catalogue import Channel, Client, Priority, Status
from events.jetstream.relay import JetStreamRelay, Topology
from events.postgres import checkpoints
from events.postgres.migrate import apply_migrations
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from projections.base import Projection
from projections.inbox import InboxProjection
from projections.runner import ProjectionRunner
from projections.timeline import TimelineProjection
from tests.conftest import MakeDatabase
from tests.read_model_fold import fold

ALICE = Actor(id="alice", role=Role.ADMIN)
_topologies = itertools.count()


@dataclass
class World:
    pool: asyncpg.Pool
    store: PostgresEventStore
    handler: CommandHandler


@pytest.fixture
async def world(make_database: MakeDatabase) -> AsyncIterator[World]:
    pool = await create_pool(await make_database(), max_size=20)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()


def store_runner(world: World, projection: Projection) -> ProjectionRunner:
    """A runner used without NATS: fed from the store or by hand."""
    return ProjectionRunner(projection, world.pool, world.store, None, Topology())  # type: ignore[arg-type]


async def scripted_history(handler: CommandHandler) -> None:
    """Conversations, messages from both sides, reads, status changes, a delete."""
    for n in range(4):
        client = Actor(id=f"client-{n}", role=Role.CLIENT, client_id=f"c-{n}")
        start = StartConversation(
            client=Client(id=f"c-{n}", name=f"Client {n}"), channel=Channel.WEB
        )
        cid = (await handler.handle(start, ALICE)).conversation_id
        for i in range(5 + n):
            sender = client if i % 3 else ALICE
            await handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), sender)
        await handler.handle(MarkRead(conversation_id=cid, up_to_seq=3), ALICE)
        await handler.handle(MarkRead(conversation_id=cid), client)
        await handler.handle(UpdateConversation(conversation_id=cid, priority=Priority.HIGH), ALICE)
        if n == 1:
            await handler.handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), ALICE)
        if n == 2:
            await handler.handle(DeleteConversation(conversation_id=cid), ALICE)


async def assert_read_models_equal_the_fold(world: World) -> None:
    log = await world.store.read_all(after=0, limit=100_000)
    conversations, messages = fold(log)
    rows = await world.pool.fetch("SELECT * FROM conversations")
    assert {
        r["conversation_id"]: {k: r[k] for k in next(iter(conversations.values()))} for r in rows
    } == conversations
    # The inbox's totals (read_api/inbox_totals.py) count exactly these rows.
    grouped = await world.pool.fetch(
        "SELECT status, coalesce(assignee_id, ''), coalesce(team_id, ''), priority, deleted,"
        " count(*) FROM conversations GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    )
    counters = await world.pool.fetch("SELECT * FROM inbox_counts ORDER BY 1, 2, 3, 4, 5")
    assert [tuple(r) for r in counters] == [tuple(r) for r in grouped]
    message_rows = await world.pool.fetch("SELECT * FROM messages")
    assert {
        (r["conversation_id"], r["seq"]): {
            "sender": r["sender"],
            "content": r["content"],
            "read_by_staff": r["read_by_staff_at"] is not None,
            "read_by_client": r["read_by_client_at"] is not None,
        }
        for r in message_rows
    } == messages


async def test_read_models_built_from_the_store_equal_the_fold(world: World) -> None:
    await scripted_history(world.handler)
    for projection in (InboxProjection(), TimelineProjection()):
        runner = store_runner(world, projection)
        await runner.catch_up_from_store()
        assert runner.position == await world.store.head_position()

    await assert_read_models_equal_the_fold(world)
    # P5: unread counts equal the other side's unread messages.
    rows = await world.pool.fetch(
        "SELECT c.unread_for_staff, (SELECT count(*) FROM messages m WHERE "
        "m.conversation_id = c.conversation_id AND m.sender = 'client' "
        "AND m.read_by_staff_at IS NULL) AS counted FROM conversations c"
    )
    assert all(r["unread_for_staff"] == r["counted"] for r in rows)
    # Every event of the scripted history is folded into its row: a row's
    # version is its stream's head.
    heads = await world.pool.fetch(
        "SELECT stream_id, max(stream_position) AS head FROM events GROUP BY stream_id"
    )
    versions = await world.pool.fetch("SELECT conversation_id, version FROM conversations")
    assert {f"conversation-{r['conversation_id']}": r["version"] for r in versions} == {
        r["stream_id"]: r["head"] for r in heads
    }


async def test_read_models_built_through_nats_equal_the_fold(
    world: World, nats_url: str, nats_prefix: str
) -> None:
    topology = Topology(prefix=f"{nats_prefix}p{next(_topologies)}")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    relay = JetStreamRelay(world.store, world.pool, nc, topology)
    runners = [
        # A long idle timeout: events must come through NATS, not the store fallback.
        ProjectionRunner(p, world.pool, world.store, js, topology, idle_timeout=30)
        for p in (InboxProjection(), TimelineProjection())
    ]
    tasks = [asyncio.create_task(w.run(stop)) for w in (relay, *runners)]
    try:
        await scripted_history(world.handler)
        head = await world.store.head_position()
        async with asyncio.timeout(30):
            while min(r.position for r in runners) < head:
                await asyncio.sleep(0.05)
        await assert_read_models_equal_the_fold(world)
        rows = await world.pool.fetch("SELECT name, position FROM checkpoints")
        positions = {row["name"]: int(row["position"]) for row in rows}
        assert positions == {"relay": head, "inbox": head, "timeline": head}
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await nc.close()


async def test_redelivered_and_old_events_are_skipped_and_a_gap_back_fills(world: World) -> None:
    await scripted_history(world.handler)
    log = await world.store.read_all(after=0, limit=10_000)
    runner = store_runner(world, InboxProjection())

    await runner.apply(log[:5])
    await runner.apply(log[2:4])  # re-delivered: skipped
    await runner.apply(log[20:30])  # after a hole: 6..20 back-filled first
    await runner.apply(log[:40])  # old and new mixed
    await runner.apply(log[40:])

    assert runner.position == log[-1].global_position
    await store_runner(world, TimelineProjection()).catch_up_from_store()
    await assert_read_models_equal_the_fold(world)


async def test_the_version_migration_fills_in_rows_projected_before_it(world: World) -> None:
    """Rows the inbox built before conversations.version existed get the
    stream position of the last event folded into each (the inbox is only
    part-way through the log here), and the runner carries on from there."""
    await scripted_history(world.handler)
    log = await world.store.read_all(after=0, limit=10_000)
    runner = store_runner(world, InboxProjection())
    half = log[: len(log) // 2]
    await runner.apply(half)
    async with world.pool.acquire() as conn:
        await conn.execute("ALTER TABLE conversations DROP COLUMN version")
        await conn.execute(
            "DELETE FROM schema_migrations WHERE name = 'projections/002_conversation_version'"
        )
        assert await apply_migrations(conn, MIGRATION_FOLDERS) == [
            "projections/002_conversation_version"
        ]
    rows = await world.pool.fetch("SELECT conversation_id, version FROM conversations")
    expected, _ = fold(half)
    assert len(expected) > 1 and any(row["version"] > 1 for row in expected.values())
    assert {r["conversation_id"]: r["version"] for r in rows} == {
        cid: row["version"] for cid, row in expected.items()
    }

    await runner.catch_up_from_store()
    await store_runner(world, TimelineProjection()).catch_up_from_store()
    await assert_read_models_equal_the_fold(world)


async def test_a_checkpoint_cannot_move_back(world: World) -> None:
    async with world.pool.acquire() as conn:
        await checkpoints.load(conn, "probe")
        await checkpoints.save(conn, "probe", 10)
        with pytest.raises(asyncpg.CheckViolationError):
            await checkpoints.save(conn, "probe", 9)
        assert await checkpoints.load(conn, "probe") == 10


async def test_the_relay_publishes_each_event_once_with_its_id(
    world: World, nats_url: str, nats_prefix: str
) -> None:
    topology = Topology(prefix=f"{nats_prefix}p{next(_topologies)}")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    await scripted_history(world.handler)
    head = await world.store.head_position()
    # Two relays: only one may lead; the second waits.
    relays = [JetStreamRelay(world.store, world.pool, nc, topology) for _ in range(2)]
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        async with asyncio.timeout(30):
            while max(r.position for r in relays) < head:
                await asyncio.sleep(0.05)
        assert sorted(r.position for r in relays) == [0, head]
        info = await js.stream_info(topology.stream)
        assert info.state.messages == head
        # A crash before the checkpoint: the next relay learns from the
        # stream what it holds and publishes nothing twice.
        stop.set()
        await asyncio.gather(*tasks)
        async with world.pool.acquire() as conn:
            await conn.execute("DELETE FROM checkpoints WHERE name = 'relay'")
        stop = asyncio.Event()
        successor = JetStreamRelay(world.store, world.pool, nc, topology)
        tasks = [asyncio.create_task(successor.run(stop))]
        async with asyncio.timeout(30):
            while successor.position < head:
                await asyncio.sleep(0.05)
        assert (await js.stream_info(topology.stream)).state.messages == head
        message = await js.get_msg(topology.stream, seq=1)
        assert message.headers is not None
        first = (await world.store.read_all(after=0, limit=1))[0]
        assert message.headers["Nats-Msg-Id"] == str(first.event_id)
        assert (
            message.subject
            == f"{topology.prefix}.events.{first.data.conversation_id}.ConversationStarted"
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await nc.close()
