"""The stale-action guard through the real command handler (in-memory store):
after a random history of messages, status changes, assignments, reads and
priority changes by the client and several staff members, a staff command
carrying a random ``seen_version`` is refused ``conversation_moved`` exactly
when something after that version is a message, a status change or an
assignment change that someone else caused; the refusal lists exactly those
events (the newest :data:`commands.guard.MAX_MISSED`). Otherwise the command
does what it would have done without ``seen_version``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from commands import errors
from commands.decider import decide, fold
from commands.guard import MAX_MISSED
from commands.handler import CommandHandler
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    AssignConversation,
    ChangeStatus,
    MarkRead,
    Role,
    SendMessage,
    StartConversation,
    UpdateConversation,
    stream_id_for,
)
from events.catalogue import (
    Channel,
    Client,
    ConversationAssigned,
    ConversationStatusChanged,
    ConversationUnassigned,
    MessageSent,
    Priority,
    Status,
    event_type,
)
from events.envelope import RecordedEvent
from tests.fakes.memory_store import MemoryEventStore

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

CID = uuid.UUID("00000000-0000-4000-8000-0000000000cc")
ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
DAVE = Actor(id="dave", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
STAFF = [ALICE, BOB, DAVE]

MOVES = (MessageSent, ConversationStatusChanged, ConversationAssigned, ConversationUnassigned)
"""What moves a conversation past what someone saw (reads and priority do not)."""

staff = st.sampled_from(STAFF)
anyone = st.sampled_from([*STAFF, CAROL])
agents = st.sampled_from([None, "bob", "dave"])
teams = st.sampled_from([None, "billing"])


def commands(actor: Actor) -> st.SearchStrategy[AnyCommand]:
    """Anything ``actor`` might send (some of it refused, which is fine)."""
    return st.one_of(
        st.builds(SendMessage, conversation_id=st.just(CID), content=st.just("hello")),
        st.builds(MarkRead, conversation_id=st.just(CID)),
        st.builds(ChangeStatus, conversation_id=st.just(CID), status=st.sampled_from(Status)),
        st.builds(AssignConversation, conversation_id=st.just(CID), agent_id=agents, team_id=teams),
        st.builds(
            UpdateConversation, conversation_id=st.just(CID), priority=st.sampled_from(Priority)
        ),
    )


# One step: an actor and a command, or a burst of client messages (to go past
# MAX_MISSED now and then).
steps = st.one_of(
    anyone.flatmap(lambda actor: st.tuples(st.just(actor), commands(actor), st.just(1))),
    st.tuples(
        st.just(CAROL),
        st.just(SendMessage(conversation_id=CID, content="are you there?")),
        st.integers(1, 30),
    ),
)


async def history(handler: CommandHandler, story: list[tuple[Actor, AnyCommand, int]]) -> None:
    start = StartConversation(
        conversation_id=CID, client=Client(id="c-1", name="Carol"), channel=Channel.WEB
    )
    await handler.handle(start, CAROL)
    for actor, command, times in story:
        for _ in range(times):
            with contextlib.suppress(errors.DomainError):  # refused: nothing written
                await handler.handle(command, actor)


def missed_by(sender: Actor, events: list[RecordedEvent]) -> list[RecordedEvent]:
    return [e for e in events if isinstance(e.data, MOVES) and e.metadata.actor_id != sender.id]


@settings(max_examples=80, deadline=None)
@given(story=st.lists(steps, max_size=12), sender=staff, data=st.data())
def test_the_guard_refuses_exactly_when_someone_else_moved_the_conversation(
    story: list[tuple[Actor, AnyCommand, int]], sender: Actor, data: st.DataObject
) -> None:
    async def scenario() -> None:
        store = MemoryEventStore()
        handler = CommandHandler(store)
        await history(handler, story)
        stream = await store.read_stream(stream_id_for(CID))
        version = len(stream)

        seen = data.draw(
            st.one_of(
                st.integers(max(0, version - 3), version),  # just now
                st.integers(0, version),  # any time
                st.integers(0, version),
                st.none(),
                st.integers(version + 1, version + 2),  # from the future
            ),
            label="seen_version",
        )
        plain = data.draw(commands(sender), label="command")
        command = replace(plain, seen_version=seen)
        # What the same command would do without seen_version.
        counter = itertools.count(1)
        state = fold(INITIAL_STATE, (e.data for e in stream))
        try:
            expected: list[str] | type[errors.DomainError] = [
                event_type(e)
                for e in decide(state, plain, sender, lambda: uuid.UUID(int=next(counter)), NOW)
            ]
        except errors.DomainError as refusal:
            expected = type(refusal)

        missed = [] if seen is None else missed_by(sender, stream[seen:])
        if seen is not None and seen > version:
            event("seen_version ahead")
            with pytest.raises(errors.InvalidCommand) as ahead:
                await handler.handle(command, sender)
            assert ahead.value.field == "seen_version"
        elif missed:
            event("moved" if len(missed) <= MAX_MISSED else "moved, many missed")
            with pytest.raises(errors.ConversationMoved) as moved:
                await handler.handle(command, sender)
            assert moved.value.details == {
                "version": version,
                "missed": msgspec.to_builtins(missed[-MAX_MISSED:]),
            }
        elif isinstance(expected, list):
            event("let through" if seen is not None else "no seen_version")
            result = await handler.handle(command, sender)
            assert result.events == expected
        else:
            # Refused, but for its own reason: never conversation_moved.
            event("refused for its own reason")
            with pytest.raises(expected):
                await handler.handle(command, sender)
        # A refused command writes nothing.
        passed = isinstance(expected, list) and not missed and (seen or 0) <= version
        written = len(await store.read_stream(stream_id_for(CID))) - version
        assert written == (len(expected) if passed and isinstance(expected, list) else 0)

    asyncio.run(scenario())
