"""The command handler, given/when/then, against the in-memory event store:
load, fold, decide, append, and what it promises around them (turns, the
state cache, idempotency, retries, a bounded answer)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from commands import errors
from commands.handler import Busy, CommandHandler
from commands.model import (
    Actor,
    AnyCommand,
    ChangeStatus,
    MarkRead,
    Role,
    SendMessage,
    StartConversation,
    stream_id_for,
)
from commands.result import CommandResult
from events.catalogue import Channel, Client, MessageSent, Status
from events.envelope import AppendResult, NewEvent, RecordedEvent
from events.store import ConcurrencyError, StoreUnavailable
from tests.fakes.memory_store import MemoryEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")


def start(command_id: str | None = None) -> StartConversation:
    return StartConversation(
        client=Client(id="c-1", name="Carol"), channel=Channel.WEB, command_id=command_id
    )


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


class AlwaysConflicting(MemoryEventStore):
    """Another process always writes first."""

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        if await self.stream_version(stream_id):
            raise ConcurrencyError(stream_id, expected_version or 0, 99)
        return await super().append(stream_id, events, expected_version)


class InDoubt(MemoryEventStore):
    """Appends are written, but the answer is lost while ``failing``."""

    failing = False

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        result = await super().append(stream_id, events, expected_version)
        if self.failing:
            raise StoreUnavailable("the answer was lost", retry_after=2.5)
        return result


class Frozen(MemoryEventStore):
    """Appends to existing streams never answer."""

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        if await self.stream_version(stream_id):
            await asyncio.Event().wait()
        return await super().append(stream_id, events, expected_version)


class ReadCounting(MemoryEventStore):
    reads = 0

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        self.reads += 1
        return await super().read_stream(stream_id, after=after, limit=limit)


async def test_a_started_conversation_takes_messages_in_order(store: MemoryEventStore) -> None:
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


async def test_concurrent_senders_to_one_conversation_take_turns(
    store: MemoryEventStore,
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
    store: MemoryEventStore,
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


async def test_a_stale_cache_does_not_refuse_a_valid_command(store: MemoryEventStore) -> None:
    first, second = CommandHandler(store), CommandHandler(store)
    cid = (await first.handle(start(), ALICE)).conversation_id
    await first.handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), ALICE)
    await second.handle(ChangeStatus(conversation_id=cid, status=Status.ACTIVE), ALICE)

    # first still believes the conversation is closed; it must look again.
    sent = await first.handle(SendMessage(conversation_id=cid, content="back again"), CAROL)

    assert sent.seq == 1


async def test_a_cached_conversation_is_not_read_again(store: MemoryEventStore) -> None:
    counting = ReadCounting()
    handler = CommandHandler(counting)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    reads = counting.reads

    for i in range(5):
        await handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), CAROL)

    assert counting.reads == reads


async def test_resending_a_client_message_id_returns_the_first_result(
    store: MemoryEventStore,
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


async def test_a_retry_after_the_conversation_closed_still_gets_the_first_result(
    store: MemoryEventStore,
) -> None:
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    message = SendMessage(conversation_id=cid, content="just in time", client_message_id="cm-2")
    first = await handler.handle(message, CAROL)
    await handler.handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), ALICE)

    again = await handler.handle(message, CAROL)

    assert (again.message_id, again.position, again.replayed) == (
        first.message_id,
        first.position,
        True,
    )
    with pytest.raises(errors.ConversationClosed):
        await handler.handle(SendMessage(conversation_id=cid, content="too late"), CAROL)


async def test_a_command_id_makes_a_start_idempotent(store: MemoryEventStore) -> None:
    command = StartConversation(
        client=Client(id="c-1", name="Carol"), channel=Channel.EMAIL, command_id="start-1"
    )

    first = await CommandHandler(store).handle(command, ALICE)
    again = await CommandHandler(store).handle(command, ALICE)

    assert again.conversation_id == first.conversation_id
    assert again.position == first.position and again.replayed


async def test_a_command_id_reused_for_another_kind_of_command_is_refused(
    store: MemoryEventStore,
) -> None:
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    await handler.handle(
        ChangeStatus(conversation_id=cid, status=Status.CLOSED, command_id="k"), ALICE
    )
    head = await store.head_position()

    with pytest.raises(errors.CommandIdReused) as refused:
        await handler.handle(MarkRead(conversation_id=cid, command_id="k"), ALICE)

    assert refused.value.field == "command_id"
    assert await store.head_position() == head


@pytest.mark.parametrize("fresh_handler", [False, True])
async def test_a_key_reused_for_the_same_kind_with_other_content_is_refused(
    store: MemoryEventStore, fresh_handler: bool
) -> None:
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    await handler.handle(
        SendMessage(conversation_id=cid, content="first", client_message_id="cm"), CAROL
    )
    retrying = CommandHandler(store) if fresh_handler else handler

    with pytest.raises(errors.CommandIdReused) as refused:
        await retrying.handle(
            SendMessage(conversation_id=cid, content="other", client_message_id="cm"), CAROL
        )

    assert refused.value.field == "client_message_id"
    assert len(await store.read_stream(stream_id_for(cid))) == 2


async def test_a_no_op_reports_where_the_conversation_stands(store: MemoryEventStore) -> None:
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    sent = await handler.handle(SendMessage(conversation_id=cid, content="hi"), CAROL)

    # Carol's own message is not unread for Carol: nothing changes.
    result = await CommandHandler(store).handle(MarkRead(conversation_id=cid), CAROL)

    assert result.events == []
    assert (result.position, result.version) == (sent.position, sent.version)


async def test_an_unknown_conversation_is_not_found(store: MemoryEventStore) -> None:
    with pytest.raises(errors.ConversationNotFound):
        await CommandHandler(store).handle(
            SendMessage(conversation_id=uuid.uuid4(), content="anyone?"), ALICE
        )


async def test_losing_every_race_is_busy() -> None:
    store = AlwaysConflicting()
    handler = CommandHandler(store, max_attempts=3)
    cid = (await handler.handle(start(), ALICE)).conversation_id

    with pytest.raises(Busy):
        await handler.handle(SendMessage(conversation_id=cid, content="never"), CAROL)

    assert await store.stream_version(stream_id_for(cid)) == 1


async def test_an_unavailable_store_is_unavailable_and_a_retry_gets_the_first_result() -> None:
    store = InDoubt()
    handler = CommandHandler(store)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    message = SendMessage(conversation_id=cid, content="in doubt", client_message_id="cm")

    store.failing = True
    with pytest.raises(errors.Unavailable) as refused:
        await handler.handle(message, CAROL)
    assert refused.value.retry_after == 3  # the store's 2.5 s, rounded up

    # The append went through after all: the handler reads the stream again
    # rather than trust its cache, and the retry is answered as a replay.
    store.failing = False
    again = await handler.handle(message, CAROL)
    after = await handler.handle(SendMessage(conversation_id=cid, content="next"), CAROL)
    assert again.replayed and (again.seq, after.seq) == (1, 2)


async def test_a_frozen_store_is_answered_unavailable_within_the_bound() -> None:
    handler = CommandHandler(Frozen(), answer_within=0.2)
    cid = (await handler.handle(start(), ALICE)).conversation_id
    loop = asyncio.get_running_loop()
    began = loop.time()

    # The second command waits for the first one's turn: bounded too.
    outcomes = await asyncio.gather(
        *(
            handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), CAROL)
            for i in range(2)
        ),
        return_exceptions=True,
    )

    assert all(isinstance(o, errors.Unavailable) for o in outcomes), outcomes
    assert loop.time() - began < 1.0


async def test_every_answer_is_reported_to_on_handled(store: MemoryEventStore) -> None:
    heard: list[tuple[str, object]] = []

    def on_handled(
        command: AnyCommand,
        outcome: CommandResult | BaseException,
        seconds: float,
        correlation: uuid.UUID | None,
    ) -> None:
        assert seconds >= 0
        heard.append((type(command).__name__, type(outcome).__name__))

    handler = CommandHandler(store, on_handled=on_handled)
    await handler.handle(start(), ALICE)
    with pytest.raises(errors.ConversationNotFound):
        await handler.handle(SendMessage(conversation_id=uuid.uuid4(), content="?"), CAROL)

    assert heard == [
        ("StartConversation", "CommandResult"),
        ("SendMessage", "ConversationNotFound"),
    ]
