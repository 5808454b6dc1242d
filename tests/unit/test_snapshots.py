"""Snapshots of conversation states (commands/snapshots.py), against the
in-memory stores: the stored form is lossless and versioned, and the handler
starts from a snapshot only when it is one of this code's schema, answering
exactly as it would without."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from msgspec.structs import replace

from commands import errors
from commands.decider import decide, evolve, fold
from commands.handler import CommandHandler
from commands.model import (
    INITIAL_STATE,
    STATE_SCHEMA_VERSION,
    ConversationState,
    SendMessage,
    StartConversation,
    stream_id_for,
)
from commands.snapshots import Snapshots, decode_state, encode_state
from events.catalogue import Channel, Client
from events.envelope import RecordedEvent
from events.snapshots import Snapshot
from events.store import StoreUnavailable
from tests.command_runs import ALICE, CAROL, START, Step, command, runs
from tests.fakes.memory_snapshots import MemorySnapshotStore
from tests.fakes.memory_store import MemoryEventStore

SCHEMA_HISTORY = {1: "019dc0d7cf31cb49"}
"""Each ``STATE_SCHEMA_VERSION`` with the fingerprint of ConversationState's
fields it stands for. When ``test_the_schema_version_names_the_states_fields``
fails, the state changed: bump STATE_SCHEMA_VERSION (commands/model.py) and
record the new version here with the fingerprint the failure shows. (Old
snapshots are then ignored and replaced, never misread.)"""


def fingerprint() -> str:
    """A digest of ConversationState's fields: names, types, defaults (and
    the values of the enums among the types)."""
    parts = []
    for field in msgspec.structs.fields(ConversationState):
        kind = field.type
        is_enum = isinstance(kind, type) and issubclass(kind, Enum)
        values = [m.value for m in kind] if is_enum else []
        parts.append((field.name, repr(kind), values, repr(field.default), field.default_factory))
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def test_the_schema_version_names_the_states_fields() -> None:
    assert max(SCHEMA_HISTORY) == STATE_SCHEMA_VERSION
    assert len(set(SCHEMA_HISTORY.values())) == len(SCHEMA_HISTORY)
    assert SCHEMA_HISTORY[STATE_SCHEMA_VERSION] == fingerprint(), (
        "ConversationState's fields changed: bump STATE_SCHEMA_VERSION in commands/model.py "
        f"and add {STATE_SCHEMA_VERSION + 1}: {fingerprint()!r} to SCHEMA_HISTORY"
    )


def assert_same(decoded: Any, original: Any, where: str = "state") -> None:
    """Equal, and of the same types all the way down (a tuple is not a list,
    a frozenset not a set; a datetime keeps its offset)."""
    assert type(decoded) is type(original), where
    if isinstance(original, msgspec.Struct):
        for name in original.__struct_fields__:
            assert_same(getattr(decoded, name), getattr(original, name), f"{where}.{name}")
    elif isinstance(original, dict):
        assert decoded.keys() == original.keys(), where
        for key in original:
            assert_same(decoded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, tuple):
        assert len(decoded) == len(original), where
        for i, (d, o) in enumerate(zip(decoded, original, strict=True)):
            assert_same(d, o, f"{where}[{i}]")
    elif isinstance(original, datetime):
        assert (decoded, decoded.utcoffset()) == (original, original.utcoffset()), where
    else:
        assert decoded == original, where


def played(steps: list[Step]) -> list[ConversationState]:
    """Every state a conversation goes through in ``steps`` (refusals skipped),
    and the last once more as the handler's catch-up folds it (``fold``)."""
    cid, now, state, states = uuid.uuid4(), START, INITIAL_STATE, [INITIAL_STATE]
    events = []
    for step in steps:
        now += timedelta(minutes=step.later)
        try:
            decided = decide(state, command(step, cid), step.actor, uuid.uuid4, now)
        except errors.DomainError:
            continue
        for event in decided:
            state = evolve(state, event)
        states.append(state)
        events += decided
    folded = fold(INITIAL_STATE, events)
    assert folded == state
    return [*states, folded]


@settings(max_examples=200, deadline=None)
@given(steps=runs())
def test_every_state_a_conversation_goes_through_survives_its_stored_form(
    steps: list[Step],
) -> None:
    for state in played(steps):
        assert_same(decode_state(encode_state(state)), state)


# -- the handler with snapshots, against the in-memory stores ---------------------


class ReadsCounted(MemoryEventStore):
    """Remembers where each stream read started (``after``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads_after: list[int] = []

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        self.reads_after.append(after)
        return await super().read_stream(stream_id, after=after, limit=limit)


async def conversation_of(handler: CommandHandler, messages: int) -> uuid.UUID:
    cid = uuid.uuid4()
    start = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
    await handler.handle(replace(start, conversation_id=cid), ALICE)
    for i in range(messages):
        await handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), CAROL)
    return cid


async def test_an_uncached_conversation_is_folded_from_its_snapshot_on() -> None:
    store = ReadsCounted()
    snapshots = MemorySnapshotStore(store)
    writer = Snapshots(snapshots, every=10)
    cid = await conversation_of(CommandHandler(store, snapshots=writer), 24)
    await writer.drain()
    stream = stream_id_for(cid)
    assert snapshots.snapshots[stream].version == 20  # every 10 events: at 10, then 20

    store.reads_after.clear()
    fresh = CommandHandler(store, snapshots=Snapshots(snapshots, every=10))
    sent = await fresh.handle(SendMessage(conversation_id=cid, content="again"), CAROL)

    assert store.reads_after == [20]  # only the events after the snapshot were read
    assert (sent.seq, sent.version) == (25, 26)
    assert await fresh.state_of(cid) == await CommandHandler(store).state_of(cid)


async def test_a_snapshot_of_another_schema_is_ignored_and_replaced() -> None:
    store = MemoryEventStore()
    snapshots = MemorySnapshotStore(store)
    cid = await conversation_of(CommandHandler(store), 5)
    stream = stream_id_for(cid)
    head = (await store.read_stream(stream))[-1]
    # A snapshot of another schema: read as this one, it would be this wrong state.
    wrong = ConversationState(conversation_id=cid, client_id="someone else", last_seq=99)
    foreign = Snapshot(
        stream_id=stream,
        version=head.stream_position,
        position=head.global_position,
        schema_version=STATE_SCHEMA_VERSION + 1,
        state=encode_state(wrong),
    )
    assert await snapshots.save(foreign)

    writer = Snapshots(snapshots, every=3)
    handler = CommandHandler(store, snapshots=writer)
    state = await handler.state_of(cid)
    await writer.drain()

    assert state == await CommandHandler(store).state_of(cid)
    assert (state.client_id, state.last_seq) == ("c-1", 5)
    replaced = snapshots.snapshots[stream]
    assert (replaced.schema_version, replaced.version) == (STATE_SCHEMA_VERSION, 6)
    assert decode_state(replaced.state) == state


async def test_an_unreadable_snapshot_is_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryEventStore()
    snapshots = MemorySnapshotStore(store)
    cid = await conversation_of(CommandHandler(store), 3)
    stream = stream_id_for(cid)
    head = (await store.read_stream(stream))[-1]
    broken = Snapshot(
        stream_id=stream,
        version=head.stream_position,
        position=head.global_position,
        schema_version=STATE_SCHEMA_VERSION,
        state=b'{"last_seq": "three"}',
    )
    assert await snapshots.save(broken)

    with caplog.at_level(logging.WARNING, logger="parley.snapshots"):
        handler = CommandHandler(store, snapshots=Snapshots(snapshots, every=1000))
        sent = await handler.handle(SendMessage(conversation_id=cid, content="hi"), CAROL)

    assert (sent.seq, sent.version) == (4, 5)
    assert "folding it from the start" in caplog.text


class SavesFail(MemorySnapshotStore):
    async def save(self, snapshot: Snapshot) -> bool:
        raise StoreUnavailable("the snapshot table is away")


async def test_a_failed_snapshot_write_is_logged_and_fails_no_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryEventStore()
    writer = Snapshots(SavesFail(store), every=2)
    handler = CommandHandler(store, snapshots=writer)

    with caplog.at_level(logging.WARNING, logger="parley.snapshots"):
        cid = await conversation_of(handler, 6)
        await writer.drain()

    assert (await handler.state_of(cid)).last_seq == 6
    assert "not saved" in caplog.text


async def test_snapshots_never_change_an_answer_even_with_no_cache() -> None:
    # cache_size=0: every command starts from the snapshot store, as a process
    # meeting each conversation for the first time would.
    store = MemoryEventStore()
    snapshots = MemorySnapshotStore(store)
    writer = Snapshots(snapshots, every=2)
    with_snapshots = CommandHandler(store, cache_size=0, snapshots=writer)
    cid = await conversation_of(with_snapshots, 9)
    await writer.drain()

    for i in range(5):
        state = await with_snapshots.state_of(cid)
        assert state == await CommandHandler(store).state_of(cid)
        assert snapshots.snapshots[stream_id_for(cid)].version <= 10 + i
        await with_snapshots.handle(SendMessage(conversation_id=cid, content=f"n{i}"), ALICE)
        await writer.drain()


def test_snapshots_are_taken_every_one_or_more_events() -> None:
    with pytest.raises(ValueError):
        Snapshots(MemorySnapshotStore(MemoryEventStore()), every=0)
