"""Marking mention notifications read: who may, what it records, and when
it records nothing (the pure decider of commands.notifications)."""

from __future__ import annotations

import uuid
from functools import reduce

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import errors
from commands.model import Actor, Role
from commands.notifications import (
    MarkNotificationsRead,
    NotificationsState,
    decide_notifications_read,
    evolve_notifications,
)
from events.catalogue import AgentAvailabilityChanged, Availability, NotificationsRead

ANN = Actor(id="ann", role=Role.AGENT)
ALICE = Actor(id="alice", role=Role.ADMIN)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
NOTE = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


def state_after(*events: NotificationsRead) -> NotificationsState:
    return reduce(evolve_notifications, events, NotificationsState())


def test_an_agent_marks_their_notifications_read_up_to_a_position() -> None:
    command = MarkNotificationsRead(agent_id="ann", up_to_position=42)

    assert decide_notifications_read(NotificationsState(), command, ANN) == [
        NotificationsRead(agent_id="ann", up_to_position=42)
    ]


def test_or_some_notes_by_id_each_once() -> None:
    command = MarkNotificationsRead(agent_id="ann", note_ids=(NOTE, NOTE))

    assert decide_notifications_read(NotificationsState(), command, ANN) == [
        NotificationsRead(agent_id="ann", note_ids=(NOTE,))
    ]


def test_reading_up_to_a_position_already_read_records_nothing() -> None:
    state = state_after(NotificationsRead(agent_id="ann", up_to_position=50))

    for position in (10, 50):
        command = MarkNotificationsRead(agent_id="ann", up_to_position=position)
        assert decide_notifications_read(state, command, ANN) == []
    further = MarkNotificationsRead(agent_id="ann", up_to_position=51)
    assert len(decide_notifications_read(state, further, ANN)) == 1


def test_reads_by_id_and_other_events_leave_the_position_read() -> None:
    state = state_after(
        NotificationsRead(agent_id="ann", up_to_position=30),
        NotificationsRead(agent_id="ann", note_ids=(NOTE,)),
        NotificationsRead(agent_id="ann", up_to_position=20),
    )
    assert state.read_up_to == 30
    other = AgentAvailabilityChanged(agent_id="ann", availability=Availability.ONLINE)
    assert evolve_notifications(state, other) == state


@pytest.mark.parametrize(
    ("actor", "agent_id"),
    [(CAROL, "carol"), (ANN, "ben"), (ALICE, "ann")],
    ids=["a client", "another agent", "even an admin, for another"],
)
def test_only_the_agent_themselves_may_mark_their_notifications_read(
    actor: Actor, agent_id: str
) -> None:
    command = MarkNotificationsRead(agent_id=agent_id, up_to_position=1)

    with pytest.raises(errors.Forbidden):
        decide_notifications_read(NotificationsState(), command, actor)


@pytest.mark.parametrize(
    "command",
    [
        MarkNotificationsRead(agent_id="ann"),
        MarkNotificationsRead(agent_id="ann", up_to_position=3, note_ids=(NOTE,)),
    ],
    ids=["neither", "both"],
)
def test_exactly_one_of_a_position_and_note_ids(command: MarkNotificationsRead) -> None:
    with pytest.raises(errors.InvalidCommand):
        decide_notifications_read(NotificationsState(), command, ANN)


def test_the_command_bounds_its_inputs() -> None:
    for bad in (
        {"agent_id": "ann", "up_to_position": -1},
        {"agent_id": "ann", "up_to_position": 2**63},
        {"agent_id": "ann", "note_ids": [str(uuid.uuid4()) for _ in range(101)]},
        {"agent_id": "a b", "up_to_position": 1},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, MarkNotificationsRead)


@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=20))
def test_the_state_is_the_furthest_position_read(positions: list[int]) -> None:
    state = state_after(*(NotificationsRead(agent_id="ann", up_to_position=p) for p in positions))

    assert state.read_up_to == max(positions, default=0)
