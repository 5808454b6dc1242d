"""The command handler with snapshots, against a real PostgreSQL: snapshots
are a cache. Whatever a conversation went through, a handler starting from
snapshots answers every command and reports every state exactly as one
without; deleting the snapshots changes nothing; a snapshot that cannot be
written fails no command. (Concurrent writers with snapshots on:
tests/integration/test_command_handler.py, run both ways.)"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from commands import errors
from commands.handler import CommandHandler
from commands.model import ConversationState, SendMessage, stream_id_for
from commands.result import CommandResult
from commands.snapshots import Snapshots
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent, RecordedEvent
from events.postgres.snapshots import PostgresSnapshotStore
from events.postgres.store import PostgresEventStore, create_pool
from tests.command_runs import ALICE, CAROL, START, Step, command, runs
from tests.conftest import MakeDatabase

Outcome = tuple[object, ...]


async def outcome(answer: Awaitable[CommandResult]) -> Outcome:
    """What a command's caller sees, without what differs between two
    conversations (their ids, global positions, minted message ids)."""
    try:
        r = await answer
    except errors.DomainError as error:
        return ("refused", error.code, error.field)
    return ("done", r.version, tuple(r.events), r.seq, r.replayed)


def anonymous(state: ConversationState) -> ConversationState:
    return replace(state, conversation_id=None)


class ReadsCounted(PostgresEventStore):
    """Remembers where each stream read started (``after``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.reads_after: list[int] = []

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        self.reads_after.append(after)
        return await super().read_stream(stream_id, after=after, limit=limit)


@pytest.fixture
async def own_pool(make_database: MakeDatabase) -> AsyncIterator[asyncpg.Pool]:
    """A database of this test's own: its snapshots may all be deleted, and
    nobody else writes to its conversations. (A worker on the run's shared
    database, as the e2e tier's server runs, has a waker: it would wake the
    conversations these runs snooze, at dates now past, adding an event to
    A or B; it did so in CI when the e2e tier ran first.)"""
    pool = await create_pool(await make_database(), min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
async def own_store(own_pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(own_pool)
    yield store
    await store.close()


@pytest.fixture
async def counted(own_pool: asyncpg.Pool) -> AsyncIterator[ReadsCounted]:
    store = ReadsCounted(own_pool)
    yield store
    await store.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=runs(max_steps=25), data=st.data())
async def test_a_handler_with_snapshots_answers_as_one_without(
    own_store: PostgresEventStore, own_pool: asyncpg.Pool, steps: list[Step], data: st.DataObject
) -> None:
    # The same commands on two conversations: A by a handler without
    # snapshots, B by one taking a snapshot every 2 events, which now and
    # then is replaced by a fresh one (an empty cache: it starts from B's
    # snapshot) or loses B's snapshot.
    now = [START]
    plain = CommandHandler(own_store, clock=lambda: now[0])
    snapshots = PostgresSnapshotStore(own_pool)

    def with_snapshots() -> tuple[CommandHandler, Snapshots]:
        writer = Snapshots(snapshots, every=2)
        return CommandHandler(own_store, clock=lambda: now[0], snapshots=writer), writer

    a, b = uuid.uuid4(), uuid.uuid4()
    handler, writer = with_snapshots()
    for step in steps:
        now[0] += timedelta(minutes=step.later)
        expected = await outcome(plain.handle(command(step, a), step.actor))
        assert await outcome(handler.handle(command(step, b), step.actor)) == expected, step
        match data.draw(st.sampled_from(["", "", "fresh", "drop"]), label="then"):
            case "fresh":
                await writer.drain()
                handler, writer = with_snapshots()
            case "drop":
                await writer.drain()
                drop = "DELETE FROM snapshots WHERE stream_id = $1"
                await own_pool.execute(drop, stream_id_for(b))
        assert anonymous(await handler.state_of(b)) == anonymous(await plain.state_of(a))

    await writer.drain()
    fresh, _ = with_snapshots()
    assert anonymous(await fresh.state_of(b)) == anonymous(await plain.state_of(a))


# -- a long conversation -----------------------------------------------------------


async def long_conversation(store: PostgresEventStore, messages: int) -> uuid.UUID:
    """A conversation of ``messages`` client messages, appended in bulk."""
    cid, metadata = uuid.uuid4(), Metadata(actor_id="carol", actor_role="client")
    events = [
        ConversationStarted(
            conversation_id=cid,
            client=Client(id="c-1", name="Carol"),
            channel=Channel.WEB,
            priority=Priority.HIGH,
            status=Status.ACTIVE,
        ),
        *(
            MessageSent(
                conversation_id=cid,
                message_id=uuid.uuid4(),
                seq=seq,
                sender=Side.CLIENT,
                sender_id="carol",
                content=f"message {seq}",
            )
            for seq in range(1, messages + 1)
        ),
    ]
    batch = [NewEvent(event_id=uuid.uuid4(), data=e, metadata=metadata) for e in events]
    for start in range(0, len(batch), 1000):
        await store.append(stream_id_for(cid), batch[start : start + 1000], start)
    return cid


async def test_deleting_every_snapshot_changes_nothing(
    counted: ReadsCounted, own_pool: asyncpg.Pool
) -> None:
    cid = await long_conversation(counted, 2500)
    snapshots = PostgresSnapshotStore(own_pool)

    def fresh() -> tuple[CommandHandler, Snapshots]:
        writer = Snapshots(snapshots, every=1000)
        return CommandHandler(counted, snapshots=writer), writer

    # No snapshot yet: the first handler folds the 2,501 events, and saves them.
    first, writer = fresh()
    sent = await first.handle(SendMessage(conversation_id=cid, content="one"), CAROL)
    await writer.drain()
    assert await own_pool.fetchval("SELECT version FROM snapshots") == 2501

    # The next process starts from the snapshot: it reads one event, not 2,502.
    counted.reads_after.clear()
    second, _ = fresh()
    again = await second.handle(SendMessage(conversation_id=cid, content="two"), CAROL)
    assert counted.reads_after == [2501]
    assert (sent.seq, again.seq, again.version) == (2501, 2502, 2503)
    with_snapshot = await second.state_of(cid)
    assert with_snapshot == await CommandHandler(counted).state_of(cid)

    await own_pool.execute("DELETE FROM snapshots")

    # Without: the whole stream again, the same state, the same answers.
    counted.reads_after.clear()
    third, _ = fresh()
    assert await third.state_of(cid) == with_snapshot
    assert counted.reads_after == [0]
    last = await third.handle(SendMessage(conversation_id=cid, content="three"), ALICE)
    assert (last.seq, last.version) == (2503, 2504)


async def test_a_snapshot_that_cannot_be_written_or_read_fails_no_command(
    counted: ReadsCounted, own_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    await own_pool.execute("DROP TABLE snapshots")  # every read and write of one fails
    cid = await long_conversation(counted, 10)
    writer = Snapshots(PostgresSnapshotStore(own_pool), every=2)

    with caplog.at_level(logging.WARNING, logger="parley.snapshots"):
        handler = CommandHandler(counted, snapshots=writer)
        results = [
            await handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), CAROL)
            for i in range(5)
        ]
        await writer.drain()

    assert [r.seq for r in results] == [11, 12, 13, 14, 15]
    assert (await handler.state_of(cid)).last_seq == 15
    assert "not read" in caplog.text and "not saved" in caplog.text
