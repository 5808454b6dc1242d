"""The conversation decider, given/when/then, and as a Hypothesis state machine
checking the seed's properties P3, P5, P8 and P9 over random command sequences."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from functools import reduce

import pytest
from hypothesis import given as given_
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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
    StartConversation,
    UpdateConversation,
)
from events.catalogue import (
    AnyEvent,
    Channel,
    Client,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUpdated,
    MessageSent,
    MessagesRead,
    Priority,
    Side,
    Status,
)

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
        state = reduce(evolve, decide(state, command, actor, ids()), state)
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
    return ChangeStatus(conversation_id=CID, status=to), ALICE


# -- given / when / then ------------------------------------------------------------


def test_starting_a_conversation() -> None:
    [event] = decide(INITIAL_STATE, START[0], ALICE, ids())
    assert isinstance(event, ConversationStarted)
    assert (event.conversation_id, event.status, event.priority) == (
        CID,
        Status.ACTIVE,
        Priority.MEDIUM,
    )


def test_a_conversation_starts_only_once() -> None:
    with pytest.raises(errors.ConversationExists):
        decide(given(START), START[0], ALICE, ids())


def test_a_client_starts_only_its_own_conversations() -> None:
    with pytest.raises(errors.Forbidden):
        decide(INITIAL_STATE, START[0], MALLORY, ids())
    assert decide(INITIAL_STATE, START[0], CAROL, ids())


def test_commands_on_an_unknown_conversation_are_refused() -> None:
    with pytest.raises(errors.ConversationNotFound):
        decide(INITIAL_STATE, send(ALICE)[0], ALICE, ids())


def test_messages_are_numbered_in_order_with_the_senders_side() -> None:
    state = given(START, send(CAROL), send(ALICE))
    [event] = decide(state, send(BOB)[0], BOB, ids())
    assert isinstance(event, MessageSent)
    assert (event.seq, event.sender, event.sender_id) == (3, Side.ADMIN, "bob")


def test_staff_may_send_as_system_but_a_client_may_not_pretend() -> None:
    system = SendMessage(conversation_id=CID, content="closed by bot", sender=Side.SYSTEM)
    [event] = decide(given(START), system, ALICE, ids())
    assert isinstance(event, MessageSent) and event.sender is Side.SYSTEM
    as_admin = SendMessage(conversation_id=CID, content="x", sender=Side.ADMIN)
    with pytest.raises(errors.Forbidden):
        decide(given(START), as_admin, CAROL, ids())


def test_a_client_cannot_touch_another_clients_conversation() -> None:
    with pytest.raises(errors.Forbidden):
        decide(given(START), send(MALLORY)[0], MALLORY, ids())


def test_a_client_cannot_change_status_or_priority() -> None:
    with pytest.raises(errors.Forbidden):
        decide(given(START), ChangeStatus(conversation_id=CID, status=Status.CLOSED), CAROL, ids())
    update = UpdateConversation(conversation_id=CID, priority=Priority.HIGH)
    with pytest.raises(errors.Forbidden):
        decide(given(START), update, CAROL, ids())


@pytest.mark.parametrize(("src", "dst"), [(s, d) for s in Status for d in Status])
def test_status_changes_follow_the_table(src: Status, dst: Status) -> None:
    path = {Status.ACTIVE: [], Status.PENDING: [Status.PENDING], Status.CLOSED: [Status.CLOSED]}
    state = given(START, *(status(s) for s in path[src]))
    command = ChangeStatus(conversation_id=CID, status=dst)
    if dst in TRANSITIONS[src]:
        [event] = decide(state, command, ALICE, ids())
        assert isinstance(event, ConversationStatusChanged)
        assert (event.from_status, event.to_status) == (src, dst)
    else:
        with pytest.raises(errors.InvalidTransition):
            decide(state, command, ALICE, ids())


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
        decide(closed, command, ALICE, ids())
    reopened = given(START, send(CAROL), status(Status.CLOSED), status(Status.ACTIVE))
    assert decide(reopened, command, ALICE, ids())


def test_updating_to_what_it_already_is_changes_nothing() -> None:
    same = UpdateConversation(conversation_id=CID, priority=Priority.MEDIUM)
    assert decide(given(START), same, ALICE, ids()) == []
    both = UpdateConversation(conversation_id=CID, priority=Priority.HIGH, summary="refund")
    [event] = decide(given(START), both, ALICE, ids())
    assert event == ConversationUpdated(
        conversation_id=CID, priority=Priority.HIGH, summary="refund"
    )


def test_an_empty_update_is_refused() -> None:
    with pytest.raises(errors.InvalidCommand):
        decide(given(START), UpdateConversation(conversation_id=CID), ALICE, ids())


def test_marking_read_counts_only_the_other_sides_messages() -> None:
    state = given(START, send(CAROL), send(CAROL), send(ALICE), send(CAROL))
    assert (len(state.unread_for_staff), len(state.unread_for_client)) == (3, 1)

    [event] = decide(state, MarkRead(conversation_id=CID, up_to_seq=2), BOB, ids())
    assert event == MessagesRead(
        conversation_id=CID, reader=Side.ADMIN, reader_id="bob", up_to_seq=2
    )
    after = evolve(state, event)
    assert (after.unread_for_staff, after.staff_read_up_to) == ((4,), 2)


def test_marking_read_what_is_read_already_emits_nothing() -> None:
    state = given(START, send(CAROL), send(ALICE), (MarkRead(conversation_id=CID), ALICE))
    assert decide(state, MarkRead(conversation_id=CID), ALICE, ids()) == []
    # Staff's own messages never become unread for staff.
    only_staff = given(START, send(ALICE), send(BOB))
    assert decide(only_staff, MarkRead(conversation_id=CID), BOB, ids()) == []


def test_each_staff_member_reads_for_themselves() -> None:
    state = given(START, send(CAROL), send(ALICE), (MarkRead(conversation_id=CID), ALICE))
    [event] = decide(state, MarkRead(conversation_id=CID), BOB, ids())
    assert isinstance(event, MessagesRead)
    assert (event.reader_id, event.up_to_seq) == ("bob", 2)
    state = evolve(state, event)
    assert state.staff_cursors == {"alice": 2, "bob": 2}
    assert decide(state, MarkRead(conversation_id=CID), BOB, ids()) == []


def test_a_closed_conversation_can_still_be_read() -> None:
    closed = given(START, send(CAROL), status(Status.CLOSED))
    [event] = decide(closed, MarkRead(conversation_id=CID), ALICE, ids())
    assert isinstance(event, MessagesRead)


def test_reading_past_the_last_message_is_refused() -> None:
    with pytest.raises(errors.InvalidCommand):
        decide(given(START, send(CAROL)), MarkRead(conversation_id=CID, up_to_seq=2), ALICE, ids())


def test_a_deleted_conversation_takes_no_more_commands() -> None:
    deleted = given(START, (DeleteConversation(conversation_id=CID), ALICE))
    assert deleted.deleted
    with pytest.raises(errors.ConversationDeleted):
        decide(deleted, send(ALICE)[0], ALICE, ids())


# -- properties over random command sequences ----------------------------------------

actors = st.sampled_from([ALICE, BOB, CAROL])


@settings(max_examples=200)
@given_(
    steps=st.lists(
        st.tuples(
            st.sampled_from(
                ["client", "admin", "system", "read-staff", "read-client", "close", "reopen"]
            ),
            st.integers(0, 3),
        ),
        max_size=60,
    )
)
def test_folding_many_events_equals_evolving_one_by_one(steps: list[tuple[str, int]]) -> None:
    events: list[AnyEvent] = []
    seq = 0
    for kind, back in steps:
        if kind in ("client", "admin", "system"):
            seq += 1
            events.append(
                MessageSent(
                    conversation_id=CID, message_id=uuid.UUID(int=seq), seq=seq,
                    sender=Side(kind), sender_id="x", content="hi",
                )
            )  # fmt: skip
        elif kind.startswith("read") and seq:
            reader = Side.ADMIN if kind == "read-staff" else Side.CLIENT
            up_to = max(1, seq - back)
            events.append(
                MessagesRead(conversation_id=CID, reader=reader, reader_id="r", up_to_seq=up_to)
            )
        elif kind in ("close", "reopen"):
            to = Status.CLOSED if kind == "close" else Status.ACTIVE
            events.append(
                ConversationStatusChanged(
                    conversation_id=CID, from_status=Status.ACTIVE, to_status=to
                )
            )
    start = given(START)
    assert fold(start, events) == reduce(evolve, events, start)


class ConversationMachine(RuleBasedStateMachine):
    """Runs random commands through decide/evolve, keeping a plain model of
    what must hold, and checks P3, P5, P8 and P9 after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.state = given(START)
        self.senders: list[Side] = []  # model: senders by seq
        self.cursors = {Side.ADMIN: 0, Side.CLIENT: 0}

    def run(self, command: AnyCommand, actor: Actor) -> list[AnyEvent]:
        before = self.state
        try:
            events = decide(self.state, command, actor, ids())
        except errors.DomainError:
            return []
        for event in events:
            self.check_event(before, event, command)
            self.state = evolve(self.state, event)
        return events

    def check_event(self, before: ConversationState, event: AnyEvent, cmd: AnyCommand) -> None:
        if isinstance(event, ConversationStatusChanged):
            # P8: only table transitions happen.
            assert event.to_status in TRANSITIONS[before.status]
        if before.status is Status.CLOSED and not isinstance(event, MessagesRead):
            # P9: nothing but a reopen changes a closed conversation (reading
            # it moves a reader's cursor, not the conversation).
            assert isinstance(event, ConversationStatusChanged)
            assert event.to_status is Status.ACTIVE
        if isinstance(event, MessageSent):
            # P3: seqs are 1..n in append order.
            assert event.seq == len(self.senders) + 1
            self.senders.append(event.sender)
        if isinstance(event, MessagesRead):
            self.cursors[event.reader] = max(self.cursors[event.reader], event.up_to_seq)

    @rule(actor=actors, content=st.text(min_size=1, max_size=20).filter(str.strip))
    def send_message(self, actor: Actor, content: str) -> None:
        self.run(SendMessage(conversation_id=CID, content=content), actor)

    @rule(actor=actors, data=st.data())
    def mark_read(self, actor: Actor, data: st.DataObject) -> None:
        up_to = data.draw(st.none() | st.integers(1, max(1, len(self.senders) + 1)))
        self.run(MarkRead(conversation_id=CID, up_to_seq=up_to), actor)

    @rule(to=st.sampled_from(Status), actor=actors)
    def change_status(self, to: Status, actor: Actor) -> None:
        self.run(ChangeStatus(conversation_id=CID, status=to), actor)

    @rule(priority=st.sampled_from(Priority))
    def update(self, priority: Priority) -> None:
        self.run(UpdateConversation(conversation_id=CID, priority=priority), ALICE)

    @precondition(lambda self: self.state.status is Status.CLOSED)
    @rule(actor=actors)
    def anything_on_a_closed_conversation_but_reopen_is_refused(self, actor: Actor) -> None:
        for command in (
            SendMessage(conversation_id=CID, content="x"),
            UpdateConversation(conversation_id=CID, priority=Priority.LOW),
            ChangeStatus(conversation_id=CID, status=Status.PENDING),
        ):
            with pytest.raises(errors.DomainError):
                decide(self.state, command, actor, ids())

    @invariant()
    def unread_counts_equal_the_other_sides_messages_after_the_cursor(self) -> None:
        # P5, both ways.
        for reader, other, unread in (
            (Side.ADMIN, Side.CLIENT, self.state.unread_for_staff),
            (Side.CLIENT, Side.ADMIN, self.state.unread_for_client),
        ):
            expected = [
                seq
                for seq, sender in enumerate(self.senders, start=1)
                if sender is other and seq > self.cursors[reader]
            ]
            assert list(unread) == expected

    @invariant()
    def the_state_knows_the_last_seq(self) -> None:
        assert self.state.last_seq == len(self.senders)


TestConversationProperties = ConversationMachine.TestCase
