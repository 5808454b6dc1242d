"""The command handler against the real event store: what needs PostgreSQL
(group commit under concurrent writers, conflicts between processes, replays
recognised by the database). Everything else is in tests/unit/test_command_handler.py,
against the in-memory store. Each test runs twice: without snapshots, and with
one every 3 events (commands.snapshots), which must change no answer."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from commands import errors
from commands.evolve import fold
from commands.handler import Busy, CommandHandler, CommandResult
from commands.model import (
    INITIAL_STATE,
    Actor,
    Role,
    SendMessage,
    StartConversation,
    stream_id_for,
)
from commands.snapshots import Snapshots, decode_state
from events.catalogue import Channel, Client, MessageSent
from events.postgres.snapshots import PostgresSnapshotStore
from events.postgres.store import PostgresEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")


def start() -> StartConversation:
    return StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)


async def send_as_a_client(handler: CommandHandler, message: SendMessage) -> CommandResult:
    """``message`` sent as a client sends it: answered "busy" or "unavailable"
    (a loaded machine can stall a command past its deadline), it tries again
    with the same client_message_id, which makes the retry safe."""
    assert message.client_message_id is not None
    for _ in range(50):
        try:
            return await handler.handle(message, CAROL)
        except (Busy, errors.Unavailable):
            await asyncio.sleep(0.1)
    return await handler.handle(message, CAROL)


class Handlers:
    """Makes handlers as new processes would have them, with snapshots or not."""

    def __init__(self, store: PostgresEventStore, pool: asyncpg.Pool, snapshots: bool) -> None:
        self._store, self._pool = store, pool
        self._snapshots = PostgresSnapshotStore(pool) if snapshots else None
        self._writers: list[Snapshots] = []

    def __call__(self) -> CommandHandler:
        if self._snapshots is None:
            return CommandHandler(self._store)
        self._writers.append(Snapshots(self._snapshots, every=3))
        return CommandHandler(self._store, snapshots=self._writers[-1])

    async def assert_snapshot_is_the_log_folded(self, stream_id: str) -> None:
        """Once written, the stream's snapshot is its events folded up to its version."""
        for writer in self._writers:
            await writer.drain()
        query = "SELECT version, state FROM snapshots WHERE stream_id = $1"
        row = await self._pool.fetchrow(query, stream_id)
        assert (row is not None) == (self._snapshots is not None)
        if row is not None:
            events = await self._store.read_stream(stream_id, limit=row["version"])
            assert decode_state(row["state"]) == fold(INITIAL_STATE, (e.data for e in events))


@pytest.fixture(params=["without snapshots", "with snapshots"])
def new_handler(
    request: pytest.FixtureRequest, store: PostgresEventStore, pool: asyncpg.Pool
) -> Handlers:
    return Handlers(store, pool, snapshots=request.param == "with snapshots")


async def test_a_started_conversation_takes_messages_in_order(
    store: PostgresEventStore, new_handler: Handlers
) -> None:
    handler = new_handler()
    started = await handler.handle(start(), ALICE)

    sent = await handler.handle(
        SendMessage(conversation_id=started.conversation_id, content="hello"), CAROL
    )

    assert (sent.seq, sent.version) == (1, 2)
    assert sent.position > started.position
    stored = await store.read_stream(stream_id_for(started.conversation_id))
    assert [e.type for e in stored] == ["ConversationStarted", "MessageSent"]
    assert stored[1].metadata.actor_id == "carol"
    assert stored[1].global_position == sent.position


async def test_concurrent_senders_to_one_conversation_all_succeed(
    store: PostgresEventStore, new_handler: Handlers
) -> None:
    handler = new_handler()
    cid = (await handler.handle(start(), ALICE)).conversation_id

    results = await asyncio.gather(
        *(
            send_as_a_client(
                handler,
                SendMessage(conversation_id=cid, content=f"m{i}", client_message_id=f"m{i}"),
            )
            for i in range(50)
        )
    )

    assert sorted(r.seq for r in results if r.seq) == list(range(1, 51))  # each once
    await new_handler.assert_snapshot_is_the_log_folded(stream_id_for(cid))
    assert (await new_handler().state_of(cid)).last_seq == 50


async def test_two_processes_writing_one_conversation_resolve_conflicts(
    store: PostgresEventStore, new_handler: Handlers
) -> None:
    # Two handlers with their own caches, as two server processes would have.
    first, second = new_handler(), new_handler()
    cid = (await first.handle(start(), ALICE)).conversation_id
    await second.handle(SendMessage(conversation_id=cid, content="warm the cache"), CAROL)

    results = await asyncio.gather(
        *(
            send_as_a_client(
                handler,
                SendMessage(conversation_id=cid, content=f"m{i}", client_message_id=f"{n}-{i}"),
            )
            for i in range(20)
            for n, handler in enumerate((first, second))
        )
    )

    assert sorted(r.seq for r in results if r.seq) == list(range(2, 42))  # each once
    await new_handler.assert_snapshot_is_the_log_folded(stream_id_for(cid))
    assert (await new_handler().state_of(cid)).last_seq == 41


async def test_resending_a_client_message_id_returns_the_first_result(
    store: PostgresEventStore, new_handler: Handlers
) -> None:
    handler = new_handler()
    cid = (await handler.handle(start(), ALICE)).conversation_id
    message = SendMessage(conversation_id=cid, content="once", client_message_id="cm-1")

    first = await handler.handle(message, CAROL)
    again = await handler.handle(message, CAROL)
    from_elsewhere = await new_handler().handle(message, CAROL)

    assert again.replayed and from_elsewhere.replayed
    for retry in (again, from_elsewhere):
        assert (retry.message_id, retry.seq, retry.position) == (
            first.message_id,
            first.seq,
            first.position,
        )
    stored = await store.read_stream(stream_id_for(cid))
    assert sum(isinstance(e.data, MessageSent) for e in stored) == 1
