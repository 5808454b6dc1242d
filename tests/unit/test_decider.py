"""The conversation decider, given/when/then, and folding as a property (the
state machine over random commands is in test_support_properties.py)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import given as given_
from hypothesis import settings
from hypothesis import strategies as st

from commands import errors
from commands.decider import TRANSITIONS, decide, evolve, fold
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    AssignConversation,
    ChangeStatus,
    ConversationState,
    DeleteConversation,
    MarkRead,
    Role,
    SendMessage,
    SnoozeConversation,
    StartConversation,
    UpdateConversation,
)
from events.catalogue import (
    AnyEvent,
    Channel,
    Client,
    ConversationAssigned,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUpdated,
    MessageSent,
    MessagesRead,
    Priority,
    Side,
    Status,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

CID = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
MALLORY = Actor(id="mallory", role=Role.CLIENT, client_id="c-2")


def ids() -> Callable[[], uuid.UUID]:
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def given(*commands: tuple[AnyCommand, Actor]) -> ConversationState:
    """The state after running ``commands`` from scratch."""
    state = INITIAL_STATE
    for command, actor in commands:
        state = reduce(evolve, decide(state, command, actor, ids(), NOW), state)
    return state


START = (
    StartConversation(
        conversation_id=CID, client=Client(id="c-1", name="Carol"), channel=Channel.EMAIL
    ),
    ALICE,
)


def send(actor: Actor, content: str = "hi") -> tuple[AnyCommand, Actor]:
    return SendMessage(conversation_id=CID, content=content), actor


def status(to: Status) -> tuple[AnyCommand, Actor]:
    if to is Status.SNOOZED:  # only a snooze, with an until, leads there
        return SnoozeConversation(conversation_id=CID, until=NOW + timedelta(hours=1)), ALICE
    return ChangeStatus(conversation_id=CID, status=to), ALICE


# -- given / when / then ------------------------------------------------------------


def test_starting_a_conversation() -> None:
    [event] = decide(INITIAL_STATE, START[0], ALICE, ids(), NOW)
    assert isinstance(event, ConversationStarted)
    assert (event.conversation_id, event.status, event.priority) == (
        CID,
        Status.ACTIVE,
        Priority.MEDIUM,
    )


def test_a_conversation_starts_only_once() -> None:
    with pytest.raises(errors.ConversationExists):
        decide(given(START), START[0], ALICE, ids(), NOW)


def test_a_client_starts_only_its_own_conversations() -> None:
    with pytest.raises(errors.Forbidden):
        decide(INITIAL_STATE, START[0], MALLORY, ids(), NOW)
    assert decide(INITIAL_STATE, START[0], CAROL, ids(), NOW)


def test_commands_on_an_unknown_conversation_are_refused() -> None:
    with pytest.raises(errors.ConversationNotFound):
        decide(INITIAL_STATE, send(ALICE)[0], ALICE, ids(), NOW)


def test_messages_are_numbered_in_order_with_the_senders_side() -> None:
    state = given(START, send(CAROL), send(ALICE))
    [event] = decide(state, send(BOB)[0], BOB, ids(), NOW)
    assert isinstance(event, MessageSent)
    assert (event.seq, event.sender, event.sender_id) == (3, Side.ADMIN, "bob")


def test_staff_may_send_as_system_but_a_client_may_not_pretend() -> None:
    system = SendMessage(conversation_id=CID, content="closed by bot", sender=Side.SYSTEM)
    [event] = decide(given(START), system, ALICE, ids(), NOW)
    assert isinstance(event, MessageSent) and event.sender is Side.SYSTEM
    as_admin = SendMessage(conversation_id=CID, content="x", sender=Side.ADMIN)
    with pytest.raises(errors.Forbidden):
        decide(given(START), as_admin, CAROL, ids(), NOW)


def test_a_client_cannot_touch_another_clients_conversation() -> None:
    with pytest.raises(errors.Forbidden):
        decide(given(START), send(MALLORY)[0], MALLORY, ids(), NOW)


def test_a_client_cannot_change_status_or_priority() -> None:
    with pytest.raises(errors.Forbidden):
        decide(
            given(START), ChangeStatus(conversation_id=CID, status=Status.CLOSED), CAROL, ids(), NOW
        )
    update = UpdateConversation(conversation_id=CID, priority=Priority.HIGH)
    with pytest.raises(errors.Forbidden):
        decide(given(START), update, CAROL, ids(), NOW)


@pytest.mark.parametrize(("src", "dst"), [(s, d) for s in Status for d in Status])
def test_status_changes_follow_the_table(src: Status, dst: Status) -> None:
    state = given(START, *([status(src)] if src is not Status.ACTIVE else []))
    command = ChangeStatus(conversation_id=CID, status=dst)
    if dst is Status.SNOOZED:  # needs an until: the snooze command
        with pytest.raises(
            errors.InvalidCommand if src is not Status.CLOSED else errors.DomainError
        ):
            decide(state, command, ALICE, ids(), NOW)
    elif dst in TRANSITIONS[src]:
        [event] = decide(state, command, ALICE, ids(), NOW)
        assert isinstance(event, ConversationStatusChanged)
        assert (event.from_status, event.to_status) == (src, dst)
    else:
        with pytest.raises(errors.InvalidTransition):
            decide(state, command, ALICE, ids(), NOW)


@pytest.mark.parametrize(
    "command",
    [
        SendMessage(conversation_id=CID, content="hello?"),
        UpdateConversation(conversation_id=CID, priority=Priority.HIGH),
        DeleteConversation(conversation_id=CID),
        AssignConversation(conversation_id=CID, agent_id="bob"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_closed_conversation_changes_only_by_a_reopen(command: AnyCommand) -> None:
    closed = given(START, send(CAROL), status(Status.CLOSED))
    with pytest.raises(errors.ConversationClosed):
        decide(closed, command, ALICE, ids(), NOW)
    reopened = given(START, send(CAROL), status(Status.CLOSED), status(Status.ACTIVE))
    assert decide(reopened, command, ALICE, ids(), NOW)


def test_updating_to_what_it_already_is_changes_nothing() -> None:
    same = UpdateConversation(conversation_id=CID, priority=Priority.MEDIUM)
    assert decide(given(START), same, ALICE, ids(), NOW) == []
    both = UpdateConversation(conversation_id=CID, priority=Priority.HIGH, summary="refund")
    [event] = decide(given(START), both, ALICE, ids(), NOW)
    assert event == ConversationUpdated(
        conversation_id=CID, priority=Priority.HIGH, summary="refund"
    )


def test_an_empty_update_is_refused() -> None:
    with pytest.raises(errors.InvalidCommand):
        decide(given(START), UpdateConversation(conversation_id=CID), ALICE, ids(), NOW)


def test_marking_read_counts_only_the_other_sides_messages() -> None:
    state = given(START, send(CAROL), send(CAROL), send(ALICE), send(CAROL))
    assert (len(state.unread_for_staff), len(state.unread_for_client)) == (3, 1)

    [event] = decide(state, MarkRead(conversation_id=CID, up_to_seq=2), BOB, ids(), NOW)
    assert event == MessagesRead(
        conversation_id=CID, reader=Side.ADMIN, reader_id="bob", up_to_seq=2
    )
    after = evolve(state, event)
    assert (after.unread_for_staff, after.staff_read_up_to) == ((4,), 2)


def test_marking_read_what_is_read_already_emits_nothing() -> None:
    state = given(START, send(CAROL), send(ALICE), (MarkRead(conversation_id=CID), ALICE))
    assert decide(state, MarkRead(conversation_id=CID), ALICE, ids(), NOW) == []
    # Staff's own messages never become unread for staff.
    only_staff = given(START, send(ALICE), send(BOB))
    assert decide(only_staff, MarkRead(conversation_id=CID), BOB, ids(), NOW) == []


def test_each_staff_member_reads_for_themselves() -> None:
    state = given(START, send(CAROL), send(ALICE), (MarkRead(conversation_id=CID), ALICE))
    [event] = decide(state, MarkRead(conversation_id=CID), BOB, ids(), NOW)
    assert isinstance(event, MessagesRead)
    assert (event.reader_id, event.up_to_seq) == ("bob", 2)
    state = evolve(state, event)
    assert state.staff_cursors == {"alice": 2, "bob": 2}
    assert decide(state, MarkRead(conversation_id=CID), BOB, ids(), NOW) == []


def test_a_closed_conversation_can_still_be_read() -> None:
    closed = given(START, send(CAROL), status(Status.CLOSED))
    [event] = decide(closed, MarkRead(conversation_id=CID), ALICE, ids(), NOW)
    assert isinstance(event, MessagesRead)


def test_reading_past_the_last_message_is_refused() -> None:
    with pytest.raises(errors.InvalidCommand):
        decide(
            given(START, send(CAROL)), MarkRead(conversation_id=CID, up_to_seq=2), ALICE, ids(), NOW
        )


def test_a_deleted_conversation_takes_no_more_commands() -> None:
    deleted = given(START, (DeleteConversation(conversation_id=CID), ALICE))
    assert deleted.deleted
    with pytest.raises(errors.ConversationDeleted):
        decide(deleted, send(ALICE)[0], ALICE, ids(), NOW)


def assign(agent: str | None = None, team: str | None = None) -> tuple[AnyCommand, Actor]:
    return AssignConversation(conversation_id=CID, agent_id=agent, team_id=team), ALICE


def test_an_agent_alone_is_assigned_within_the_conversations_team() -> None:
    state = given(START, assign(team="billing"))
    [event] = decide(state, *assign("bob"), ids(), NOW)
    assert event == ConversationAssigned(
        conversation_id=CID, agent_id="bob", team_id="billing", by="alice"
    )
    assert (evolve(state, event).assignee_id, evolve(state, event).team_id) == ("bob", "billing")


def test_unassigning_leaves_no_assignee() -> None:
    state = given(START, assign("bob", "billing"))
    [event] = decide(state, *assign(team="billing"), ids(), NOW)
    # Back in the team's queue: the event names who had it, nobody has it now.
    assert isinstance(event, ConversationUnassigned) and event.agent_id == "bob"
    assert (evolve(state, event).assignee_id, evolve(state, event).team_id) == (None, "billing")
    [event] = decide(state, *assign(), ids(), NOW)
    assert isinstance(event, ConversationUnassigned)
    assert (evolve(state, event).assignee_id, evolve(state, event).team_id) == (None, None)


def test_assigning_to_the_current_assignment_emits_nothing() -> None:
    assert decide(given(START, assign("bob", "billing")), *assign("bob"), ids(), NOW) == []
    assert decide(given(START), *assign(), ids(), NOW) == []


def test_a_client_cannot_assign() -> None:
    with pytest.raises(errors.Forbidden):
        decide(given(START), assign("bob")[0], CAROL, ids(), NOW)


# -- properties over random event sequences --------------------------------------------

KINDS = ["client", "admin", "system", "read-staff", "read-client", "close", "reopen", "assign"]
READERS = ["alice", "bob", "dave"]
HOLDERS = [None, "bob", "dave"]
TEAMS = [None, "billing"]


@settings(max_examples=200)
@given_(
    steps=st.lists(
        st.tuples(st.sampled_from(KINDS), st.integers(0, 3), st.integers(0, 5)),
        max_size=60,
    )
)
def test_folding_many_events_equals_evolving_one_by_one(
    steps: list[tuple[str, int, int]],
) -> None:
    events: list[AnyEvent] = []
    seq = 0
    for kind, back, who in steps:
        if kind in ("client", "admin", "system"):
            seq += 1
            events.append(
                MessageSent(
                    conversation_id=CID, message_id=uuid.UUID(int=seq), seq=seq,
                    sender=Side(kind), sender_id="x", content="hi",
                )
            )  # fmt: skip
        elif kind.startswith("read") and seq:
            # Each staff member reads for themselves, some behind a colleague.
            staff = kind == "read-staff"
            reader, reader_id = (Side.ADMIN, READERS[who % 3]) if staff else (Side.CLIENT, "c")
            events.append(
                MessagesRead(
                    conversation_id=CID, reader=reader, reader_id=reader_id,
                    up_to_seq=max(1, seq - back),
                )
            )  # fmt: skip
        elif kind in ("close", "reopen"):
            to = Status.CLOSED if kind == "close" else Status.ACTIVE
            events.append(
                ConversationStatusChanged(
                    conversation_id=CID, from_status=Status.ACTIVE, to_status=to
                )
            )
        elif kind == "assign":
            agent, team = HOLDERS[who % 3], TEAMS[back % 2]
            moved = ConversationUnassigned if back > 1 else ConversationAssigned
            events.append(moved(conversation_id=CID, agent_id=agent, team_id=team, by="alice"))
    start = given(START)
    assert fold(start, events) == reduce(evolve, events, start)
