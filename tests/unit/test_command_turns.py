"""Turns across processes (commands/turns.py): a command that keeps losing
races on a conversation takes the conversation's turn and, holding it, keeps
retrying; a command that wins never touches it. Here the turns are an asyncio
lock (the PostgreSQL advisory lock is exercised by tests/e2e/test_cluster.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import pytest

from commands.handler import Busy, CommandHandler
from commands.model import Actor, Role, SendMessage, StartConversation, stream_id_for
from commands.turns import RACES_BEFORE_TURN
from events.catalogue import Channel, Client
from events.envelope import AppendResult, NewEvent
from events.store import ConcurrencyError
from tests.fakes.memory_store import MemoryEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)


class LosesRaces(MemoryEventStore):
    """Another process writes first, ``losses`` times (after the start)."""

    losses = 0

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        if self.losses and await self.stream_version(stream_id):
            self.losses -= 1
            raise ConcurrencyError(stream_id, expected_version or 0, 99)
        return await super().append(stream_id, events, expected_version)


class LockTurns:
    def __init__(self) -> None:
        self.locks: dict[str, asyncio.Lock] = {}
        self.taken: Counter[str] = Counter()

    @asynccontextmanager
    async def take(self, stream_id: str) -> AsyncIterator[None]:
        async with self.locks.setdefault(stream_id, asyncio.Lock()):
            self.taken[stream_id] += 1
            yield


async def started(handler: CommandHandler) -> tuple[UUID, str]:
    """A new conversation's id and stream."""
    start = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
    cid = (await handler.handle(start, ALICE)).conversation_id
    return cid, stream_id_for(cid)


async def test_holding_the_turn_a_command_outlasts_more_lost_races_than_its_attempts() -> None:
    store, turns = LosesRaces(), LockTurns()
    handler = CommandHandler(store, max_attempts=3, turns=turns)
    cid, stream = await started(handler)
    store.losses = 8

    result = await handler.handle(SendMessage(conversation_id=cid, content="at last"), ALICE)

    assert result.events and turns.taken[stream] == 1
    assert await store.stream_version(stream) == 2


async def test_without_turns_the_same_races_run_out_of_attempts() -> None:
    store = LosesRaces()
    handler = CommandHandler(store, max_attempts=3)
    cid, _ = await started(handler)
    store.losses = 8

    with pytest.raises(Busy):
        await handler.handle(SendMessage(conversation_id=cid, content="no"), ALICE)


async def test_the_turn_is_taken_only_by_a_command_that_lost_a_few_races() -> None:
    store, turns = LosesRaces(), LockTurns()
    handler = CommandHandler(store, turns=turns)
    cid, stream = await started(handler)
    await handler.handle(SendMessage(conversation_id=cid, content="won at once"), ALICE)
    store.losses = RACES_BEFORE_TURN - 1
    await handler.handle(SendMessage(conversation_id=cid, content="lost twice"), ALICE)
    assert turns.taken[stream] == 0
    store.losses = RACES_BEFORE_TURN
    await handler.handle(SendMessage(conversation_id=cid, content="lost three times"), ALICE)
    assert turns.taken[stream] == 1
    assert await store.stream_version(stream) == 4
