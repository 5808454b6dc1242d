"""The command handler against the real event store: what needs PostgreSQL
(group commit under concurrent writers, conflicts between processes, replays
recognised by the database). Everything else is in tests/unit/test_command_handler.py,
against the in-memory store."""

from __future__ import annotations

import asyncio

from commands.handler import CommandHandler
from commands.model import (
    Actor,
    Role,
    SendMessage,
    StartConversation,
    stream_id_for,
)
from events.catalogue import Channel, Client, MessageSent
from events.postgres.store import PostgresEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")


def start() -> StartConversation:
    return StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)


async def test_a_started_conversation_takes_messages_in_order(store: PostgresEventStore) -> None:
    handler = CommandHandler(store)
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
    store: PostgresEventStore,
) -> None:
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id

    results = await asyncio.gather(
        *(
            handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), CAROL)
            for i in range(50)
        )
    )

    assert sorted(r.seq for r in results if r.seq) == list(range(1, 51))


async def test_two_processes_writing_one_conversation_resolve_conflicts(
    store: PostgresEventStore,
) -> None:
    # Two handlers with their own caches, as two server processes would have.
    first, second = CommandHandler(store), CommandHandler(store)
    cid = (await first.handle(start(), ALICE)).conversation_id
    await second.handle(SendMessage(conversation_id=cid, content="warm the cache"), CAROL)

    results = await asyncio.gather(
        *(
            handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), CAROL)
            for i in range(20)
            for handler in (first, second)
        )
    )

    assert sorted(r.seq for r in results if r.seq) == list(range(2, 42))


async def test_resending_a_client_message_id_returns_the_first_result(
    store: PostgresEventStore,
) -> None:
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    message = SendMessage(conversation_id=cid, content="once", client_message_id="cm-1")

    first = await handler.handle(message, CAROL)
    again = await handler.handle(message, CAROL)
    from_elsewhere = await CommandHandler(store).handle(message, CAROL)

    assert again.replayed and from_elsewhere.replayed
    for retry in (again, from_elsewhere):
        assert (retry.message_id, retry.seq, retry.position) == (
            first.message_id,
            first.seq,
            first.position,
        )
    stored = await store.read_stream(stream_id_for(cid))
    assert sum(isinstance(e.data, MessageSent) for e in stored) == 1
