"""Frames name agents and teams (the edge's directory cache), and a client's
socket sees an assignment only as "an agent named X is handling this"."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from commands import errors, guard
from commands.model import Actor, Role
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
    Availability,
    ConversationAssigned,
    ConversationUnassigned,
    MessageSent,
    Side,
    TeamCreated,
    event_type,
)
from events.envelope import Metadata, NewEvent, RecordedEvent
from tests.fakes.memory_store import MemoryEventStore
from ws_edge import frames, inbound
from ws_edge.directory import Directory
from ws_edge.mailbox import Delivery
from ws_edge.translate import event_frame, for_client

CID = uuid.uuid4()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def recorded(data: AnyEvent, position: int = 1, actor: str = "bob") -> RecordedEvent:
    return RecordedEvent(
        global_position=position,
        stream_id=f"conversation-{CID}",
        stream_position=position,
        event_id=uuid.uuid4(),
        type=event_type(data),
        data=data,
        metadata=Metadata(actor_id=actor, actor_role="agent"),
        recorded_at=NOW,
    )


def as_json(frame: frames.ServerFrame) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(frames.encode_frame(frame))
    return decoded


async def store_with(*events: tuple[str, AnyEvent]) -> MemoryEventStore:
    store = MemoryEventStore()
    for stream, data in events:
        version = await store.stream_version(stream)
        await store.append(stream, [NewEvent(event_id=uuid.uuid4(), data=data)], version)
    return store


ASSIGNED = ConversationAssigned(conversation_id=CID, agent_id="bob", team_id="billing", by="alice")


# -- the directory cache ---------------------------------------------------------------


async def test_a_name_is_looked_up_once_in_its_stream_then_kept() -> None:
    store = await store_with(
        ("agent-bob", AgentRegistered(agent_id="bob", display_name="Bob", capacity=5)),
        ("agent-bob", AgentProfileChanged(agent_id="bob", display_name="Robert")),
        ("team-billing", TeamCreated(team_id="billing", name="Billing")),
    )
    directory = Directory(store)
    assert not directory.knows([ASSIGNED])
    await directory.resolve([ASSIGNED])
    assert directory.knows([ASSIGNED])
    assert (directory.agent_name("bob"), directory.team_name("billing")) == ("Robert", "Billing")
    # Kept: a later change in the store is not read again (NATS brings it: ``heard``).
    await store.append(
        "agent-bob",
        [
            NewEvent(
                event_id=uuid.uuid4(), data=AgentProfileChanged(agent_id="bob", display_name="X")
            )
        ],
        2,
    )
    await directory.resolve([ASSIGNED])
    assert directory.agent_name("bob") == "Robert"


async def test_an_unknown_agent_is_remembered_as_unnamed_until_it_registers() -> None:
    directory = Directory(await store_with())
    await directory.resolve([ASSIGNED])
    assert directory.knows([ASSIGNED]) and directory.agent_name("bob") is None
    directory.heard(AgentRegistered(agent_id="bob", display_name="Bob", capacity=5))
    assert directory.agent_name("bob") == "Bob"


def test_heard_events_keep_names_current_and_availability_changes_none() -> None:
    directory = Directory()
    directory.heard(AgentRegistered(agent_id="bob", display_name="Bob", capacity=5))
    directory.heard(AgentProfileChanged(agent_id="bob", capacity=9))  # no new name
    directory.heard(AgentAvailabilityChanged(agent_id="bob", availability=Availability.AWAY))
    assert directory.agent_name("bob") == "Bob"
    directory.heard(AgentProfileChanged(agent_id="bob", display_name="Robert"))
    assert directory.agent_name("bob") == "Robert"


async def test_a_failed_lookup_leaves_the_name_unknown_to_try_again() -> None:
    class Away(MemoryEventStore):
        async def read_stream(self, stream_id: str, **_: Any) -> list[RecordedEvent]:
            raise OSError("the store is away")

    directory = Directory(Away())
    await directory.resolve([ASSIGNED])  # does not raise: the frame goes without the name
    assert not directory.knows([ASSIGNED])


async def test_only_staff_senders_are_named() -> None:
    directory = Directory(await store_with())
    by_client = MessageSent(
        conversation_id=CID, message_id=uuid.uuid4(), seq=1, sender=Side.CLIENT,
        sender_id="carol", content="hi",
    )  # fmt: skip
    assert directory.knows([by_client])
    directory.heard(AgentRegistered(agent_id="bob", display_name="Bob", capacity=5))
    by_staff = msgspec.structs.replace(by_client, sender=Side.ADMIN, sender_id="bob")
    assert as_json(event_frame(recorded(by_staff), directory))["sender_name"] == "Bob"
    assert as_json(event_frame(recorded(by_client), directory))["sender_name"] is None


# -- frames: named for staff, redacted for clients -------------------------------------


def named() -> Directory:
    directory = Directory()
    directory.heard(AgentRegistered(agent_id="bob", display_name="Bob", capacity=5))
    directory.heard(TeamCreated(team_id="billing", name="Billing"))
    return directory


def test_staff_see_who_handles_it_by_name_and_id() -> None:
    frame = as_json(event_frame(recorded(ASSIGNED, 7), named()))
    assert frame == {
        "type": "ASSIGNED",
        "conversation_id": str(CID),
        "stream_position": 7,
        "position": 7,
        "at": "2026-01-01T00:00:00Z",
        "agent_id": "bob",
        "agent_name": "Bob",
        "team_id": "billing",
        "team_name": "Billing",
        "by": "alice",
        "reason": "manual",
    }


def test_a_client_sees_only_the_agents_name_at_the_same_positions() -> None:
    for event in (
        ASSIGNED,
        ConversationUnassigned(conversation_id=CID, agent_id="bob", team_id="billing", by="x"),
    ):
        staff = as_json(event_frame(recorded(event, 7), named()))
        client = as_json(for_client(event_frame(recorded(event, 7), named())))
        internals = ("agent_id", "team_id", "team_name", "by", "reason")
        assert all(client[field] is None for field in internals)
        assert all(staff[field] is not None for field in internals)
        kept = ("type", "conversation_id", "stream_position", "position", "at", "agent_name")
        assert {k: client[k] for k in kept} == {k: staff[k] for k in kept}
        assert client["agent_name"] == "Bob"


def test_other_frames_are_the_same_for_clients() -> None:
    sent = MessageSent(
        conversation_id=CID, message_id=uuid.uuid4(), seq=1, sender=Side.CLIENT,
        sender_id="carol", content="hi",
    )  # fmt: skip
    frame = event_frame(recorded(sent))
    assert for_client(frame) is frame


def test_a_delivery_carries_the_client_text_when_there_is_one() -> None:
    delivery = Delivery(recorded(ASSIGNED), "staff", "client")
    assert (delivery.text_for(staff=True), delivery.text_for(staff=False)) == ("staff", "client")
    plain = Delivery(recorded(ASSIGNED), "same")
    assert plain.text_for(staff=False) == "same"


def test_staff_changed_names_the_agent_whatever_the_event() -> None:
    event = recorded(AgentAvailabilityChanged(agent_id="bob", availability=Availability.AWAY))
    frame = as_json(event_frame(event, named()))
    assert frame["type"] == "STAFF_CHANGED"
    assert (frame["change"], frame["agent_id"], frame["display_name"], frame["availability"]) == (
        "AgentAvailabilityChanged",
        "bob",
        "Bob",
        "away",
    )


# -- conversation_moved over WebSocket -------------------------------------------------


BOB = Actor(id="bob", role=Role.AGENT)


def moved(actor: Actor = BOB) -> errors.ConversationMoved:
    reply = MessageSent(
        conversation_id=CID, message_id=uuid.uuid4(), seq=2, sender=Side.ADMIN,
        sender_id="alice", content="on it",
    )  # fmt: skip
    try:
        guard.check(1, 3, [recorded(reply, 2, "alice"), recorded(ASSIGNED, 3, "alice")], actor)
    except errors.ConversationMoved as error:
        return error
    raise AssertionError("the guard let a stale reply through")


def test_conversation_moved_is_an_error_frame_whose_missed_events_are_json() -> None:
    frame = as_json(inbound.refused(moved(), "r1"))
    assert (frame["code"], frame["ref"], frame["field"]) == (
        "conversation_moved",
        "r1",
        "seen_version",
    )
    assert frame["details"]["version"] == 3
    missed = frame["details"]["missed"]
    assert [m["type"] for m in missed] == ["MessageSent", "ConversationAssigned"]
    assert missed[0]["data"]["content"] == "on it" and missed[0]["stream_position"] == 2
    assert missed[1]["data"]["agent_id"] == "bob" and missed[1]["metadata"]["actor_id"] == "alice"


def test_a_client_gets_conversation_moved_without_staff_internals() -> None:
    client = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
    frame = as_json(inbound.refused(moved(client), "r1"))
    missed = frame["details"]["missed"]
    assert [m["metadata"] for m in missed] == [None, None]
    assert missed[0]["data"]["content"] == "on it"
    assigned = missed[1]["data"]
    assert [assigned[f] for f in ("agent_id", "team_id", "by", "reason")] == [None] * 4
