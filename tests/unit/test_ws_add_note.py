"""ADD_NOTE in: the frame's bounds, and its mentions resolved over the
node's directory (explicit ids must be agents; ``@name``s by id or name)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from commands import errors
from events.catalogue import AgentRegistered, AnyEvent
from events.envelope import NewEvent, RecordedEvent
from events.store import StoreUnavailable
from tests.fakes.memory_store import MemoryEventStore
from ws_edge import frames, inbound
from ws_edge.directory import Directory
from ws_edge.notes import MAX_CANDIDATES, candidates, resolve_mentions

LIMIT = 64 * 1024


def decode(**fields: object) -> frames.AnyClientFrame | frames.Error:
    return inbound.decode(json.dumps({"type": "ADD_NOTE", "ref": "n1", **fields}), LIMIT)


async def store_with(*agents: tuple[str, str]) -> MemoryEventStore:
    store = MemoryEventStore()
    for agent_id, name in agents:
        data: AnyEvent = AgentRegistered(agent_id=agent_id, display_name=name, capacity=5)
        await store.append(f"agent-{agent_id}", [NewEvent(event_id=uuid.uuid4(), data=data)], 0)
    return store


# -- the frame -----------------------------------------------------------------------


def test_an_add_note_frame_needs_only_content() -> None:
    assert decode(content="Refund approved") == frames.AddNoteFrame(
        ref="n1", content="Refund approved"
    )
    cid = uuid.uuid4()
    full = decode(content="see @bob", conversation_id=str(cid), mentions=["ann"], command_id="k")
    assert full == frames.AddNoteFrame(
        ref="n1", content="see @bob", conversation_id=cid, mentions=("ann",), command_id="k"
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 4_001}, "content"),
        ({"content": "hi", "mentions": ["a"] * (frames.MAX_MENTIONS + 1)}, "mentions"),
        ({"content": "hi", "mentions": ["has space"]}, "mentions[0]"),
        ({"content": "hi", "mentions": "bob"}, "mentions"),
        ({"content": "hi", "conversation_id": "not-a-uuid"}, "conversation_id"),
    ],
)
def test_an_invalid_add_note_is_an_error_naming_the_field_with_its_ref(
    fields: dict[str, object], field: str
) -> None:
    error = decode(**fields)
    assert isinstance(error, frames.Error)
    assert (error.code, error.field, error.ref) == ("invalid_frame", field, "n1")


def test_the_at_words_looked_up_as_ids_are_bounded() -> None:
    assert candidates("(@bob), @ann. me@example.com @ @@x @bob") == ["bob", "ann"]
    many = " ".join(f"@a{i}" for i in range(100))
    assert len(candidates(many)) == MAX_CANDIDATES


# -- mentions ------------------------------------------------------------------------


async def test_explicit_mentions_come_first_then_those_the_text_names() -> None:
    """An ``@id`` is looked up in its agent's stream; a display name, once
    the agent is known (heard, looked up, or in the roster: below)."""
    directory = Directory(await store_with(("ann", "Ann Lee"), ("bob", "Bob Stone")))
    mentions = await resolve_mentions("@bob and @ann, see this", ("ann",), directory)
    assert mentions == ("ann", "bob")
    assert await resolve_mentions("@BobStone!", (), directory) == ("bob",)


async def test_an_explicit_mention_of_no_agent_is_refused() -> None:
    directory = Directory(await store_with(("ann", "Ann Lee")))
    with pytest.raises(errors.AgentNotFound) as refused:
        await resolve_mentions("hello", ("ann", "ghost"), directory)
    assert refused.value.field == "mentions" and "ghost" in refused.value.message


async def test_a_name_not_heard_yet_comes_from_the_roster_read_once() -> None:
    reads: list[int] = []

    async def roster() -> list[tuple[str, str]]:
        reads.append(1)
        return [("zed", "Zed Quinn"), ("ann", "Ann Lee")]

    directory = Directory(await store_with(), roster=roster)
    assert await resolve_mentions("@ZedQuinn @AnnLee", (), directory) == ("zed", "ann")
    directory.heard(AgentRegistered(agent_id="yan", display_name="Yan", capacity=1))
    assert await resolve_mentions("@zed @yan", (), directory) == ("zed", "yan")
    assert reads == [1]


async def test_nobody_is_mentioned_by_an_unknown_name_or_an_e_mail_address() -> None:
    directory = Directory(await store_with(("bob", "Bob Stone")))
    assert await resolve_mentions("@nobody, mail bob@example.com", (), directory) == ()


async def test_when_the_store_is_away_mentions_cannot_be_told_and_nothing_is_guessed() -> None:
    class Away(MemoryEventStore):
        async def read_stream(self, stream_id: str, **_: Any) -> list[RecordedEvent]:
            raise OSError("the store is away")

    with pytest.raises(StoreUnavailable):
        await resolve_mentions("hi", ("ann",), Directory(Away()))

    async def no_roster() -> list[tuple[str, str]]:
        raise OSError("the database is away")

    with pytest.raises(StoreUnavailable):
        await resolve_mentions("hi @AnnLee", (), Directory(await store_with(), roster=no_roster))


async def test_a_word_that_was_no_agent_is_looked_up_again_next_time() -> None:
    store = await store_with()
    directory = Directory(store)
    assert await resolve_mentions("@newbie welcome", (), directory) == ()
    data: AnyEvent = AgentRegistered(agent_id="newbie", display_name="New Bie", capacity=5)
    await store.append("agent-newbie", [NewEvent(event_id=uuid.uuid4(), data=data)], 0)
    assert await resolve_mentions("@newbie welcome", (), directory) == ("newbie",)
