"""The conversation decider as a Hypothesis state machine: random commands by
several staff members (an admin, two agents) and the client, against a plain
model of what must hold after every step:

- P3, P8, P9 (the seed's): seqs 1..n in order, only table transitions,
  nothing but a reopen changes a closed conversation;
- P5 per staff member: each one's unread count is the client's messages after
  *their* cursor, and ``unread_for_staff`` the client's messages nobody on the
  staff has read; the client's unread the staff's messages after its cursor;
- assignment: only staff assign, never a closed conversation; assigning to
  what it is already emits nothing; an unassigned conversation holds no
  assignee (the assignee is the last assignment event's agent, if any).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import reduce

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from commands import errors
from commands.decider import TRANSITIONS, decide, evolve
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    AssignConversation,
    ChangeStatus,
    ConversationState,
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
    ConversationAssigned,
    ConversationStatusChanged,
    ConversationUnassigned,
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
DAVE = Actor(id="dave", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
STAFF = (ALICE, BOB, DAVE)

actors = st.sampled_from([*STAFF, CAROL])
staff = st.sampled_from(STAFF)
agent_ids = st.sampled_from([None, "bob", "dave"])
team_ids = st.sampled_from([None, "billing", "sales"])


def new_ids() -> uuid.UUID:
    return uuid.uuid4()


class SupportConversationMachine(RuleBasedStateMachine):
    """One conversation, commands from three staff members and its client."""

    def __init__(self) -> None:
        super().__init__()
        start = StartConversation(
            conversation_id=CID, client=Client(id="c-1", name="Carol"), channel=Channel.WEB
        )
        self.state = reduce(
            evolve, decide(INITIAL_STATE, start, ALICE, new_ids, NOW), INITIAL_STATE
        )
        # The model: who sent each message (by seq), how far each reader has
        # read (by actor id), the status, and the assignment.
        self.senders: list[Side] = []
        self.read_to: dict[str, int] = {a.id: 0 for a in (*STAFF, CAROL)}
        self.status = Status.ACTIVE
        self.assignment: tuple[str | None, str | None] = (None, None)
        self.last_assignment: ConversationAssigned | ConversationUnassigned | None = None

    def run(self, command: AnyCommand, actor: Actor) -> list[AnyEvent] | errors.DomainError:
        """The events ``command`` caused (folded into the state), or its refusal."""
        before = self.state
        try:
            events = decide(self.state, command, actor, new_ids, NOW)
        except errors.DomainError as refusal:
            return refusal
        for event in events:
            self.check_event(before, event)
            self.state = evolve(self.state, event)
        return list(events)

    def check_event(self, before: ConversationState, event: AnyEvent) -> None:
        if isinstance(event, ConversationStatusChanged):
            # P8: only table transitions happen.
            assert event.to_status in TRANSITIONS[before.status]
            self.status = event.to_status
        if before.status is Status.CLOSED and not isinstance(event, MessagesRead):
            # P9: nothing but a reopen changes a closed conversation (reading
            # it moves a reader's cursor, not the conversation).
            assert isinstance(event, ConversationStatusChanged)
            assert event.to_status is Status.ACTIVE
        if isinstance(event, MessageSent):
            # P3: seqs are 1..n in append order.
            assert event.seq == len(self.senders) + 1
            self.senders.append(event.sender)
        if isinstance(event, ConversationAssigned | ConversationUnassigned):
            self.last_assignment = event

    # -- the model's questions -------------------------------------------------------

    def seqs_of(self, side: Side) -> list[int]:
        return [seq for seq, sender in enumerate(self.senders, start=1) if sender is side]

    def unread(self, side: Side, after: int) -> list[int]:
        """``side``'s messages after seq ``after``."""
        return [seq for seq in self.seqs_of(side) if seq > after]

    # -- rules ---------------------------------------------------------------------

    @rule(actor=actors, content=st.text(min_size=1, max_size=20).filter(str.strip))
    def send_message(self, actor: Actor, content: str) -> None:
        outcome = self.run(SendMessage(conversation_id=CID, content=content), actor)
        if self.status is Status.CLOSED:
            assert isinstance(outcome, errors.ConversationClosed)
        else:
            assert isinstance(outcome, list) and len(outcome) == 1

    @rule(actor=actors, data=st.data())
    def mark_read(self, actor: Actor, data: st.DataObject) -> None:
        last = len(self.senders)
        up_to = data.draw(st.none() | st.integers(1, last + 1), label="up_to_seq")
        cursor = self.state.cursor_of(actor.id) if actor.is_staff else self.read_to[actor.id]
        outcome = self.run(MarkRead(conversation_id=CID, up_to_seq=up_to), actor)
        if up_to is not None and up_to > last:
            assert isinstance(outcome, errors.InvalidCommand)
            return
        # Allowed whatever the status: it moves the reader's own cursor.
        assert isinstance(outcome, list)
        up_to = last if up_to is None else up_to
        if up_to <= cursor:
            assert outcome == []  # read that far already: nothing happens
        self.read_to[actor.id] = max(self.read_to[actor.id], up_to)

    @rule(to=st.sampled_from(Status), actor=actors)
    def change_status(self, to: Status, actor: Actor) -> None:
        outcome = self.run(ChangeStatus(conversation_id=CID, status=to), actor)
        if not actor.is_staff:
            assert isinstance(outcome, errors.Forbidden)

    @rule(priority=st.sampled_from(Priority), actor=staff)
    def update(self, priority: Priority, actor: Actor) -> None:
        self.run(UpdateConversation(conversation_id=CID, priority=priority), actor)

    @rule(actor=actors, agent=agent_ids, team=team_ids)
    def assign(self, actor: Actor, agent: str | None, team: str | None) -> None:
        command = AssignConversation(conversation_id=CID, agent_id=agent, team_id=team)
        outcome = self.run(command, actor)
        if not actor.is_staff:
            assert isinstance(outcome, errors.Forbidden)
            return
        if self.status is Status.CLOSED:
            assert isinstance(outcome, errors.ConversationClosed)
            return
        # An agent alone keeps the conversation in its team.
        wanted = (agent, self.assignment[1] if agent is not None and team is None else team)
        assert isinstance(outcome, list)
        if wanted == self.assignment:
            assert outcome == []  # so already: nothing happens
            return
        [event] = outcome
        assert isinstance(event, ConversationAssigned | ConversationUnassigned)
        assert (event.by, event.team_id) == (actor.id, wanted[1])
        if isinstance(event, ConversationUnassigned):
            assert wanted[0] is None
        self.assignment = wanted

    @precondition(lambda self: self.status is Status.CLOSED)
    @rule(actor=actors)
    def anything_on_a_closed_conversation_but_reopen_is_refused(self, actor: Actor) -> None:
        for command in (
            SendMessage(conversation_id=CID, content="x"),
            UpdateConversation(conversation_id=CID, priority=Priority.LOW),
            ChangeStatus(conversation_id=CID, status=Status.PENDING),
            AssignConversation(conversation_id=CID, agent_id="bob"),
            AssignConversation(conversation_id=CID),
        ):
            with pytest.raises(errors.DomainError):
                decide(self.state, command, actor, new_ids, NOW)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def each_staff_members_unread_is_the_clients_messages_after_their_cursor(self) -> None:
        for member in STAFF:
            mine = self.unread(Side.CLIENT, self.read_to[member.id])
            assert self.unread(Side.CLIENT, self.state.cursor_of(member.id)) == mine
            # A cursor never runs ahead of what its owner read.
            assert self.state.cursor_of(member.id) <= self.read_to[member.id]
        assert set(self.state.staff_cursors) <= {member.id for member in STAFF}

    @invariant()
    def unread_for_staff_is_what_nobody_on_the_staff_has_read(self) -> None:
        furthest = max(self.read_to[member.id] for member in STAFF)
        assert list(self.state.unread_for_staff) == self.unread(Side.CLIENT, furthest)

    @invariant()
    def the_clients_unread_is_the_staffs_messages_after_its_cursor(self) -> None:
        expected = self.unread(Side.ADMIN, self.read_to[CAROL.id])
        assert list(self.state.unread_for_client) == expected

    @invariant()
    def the_assignment_is_the_last_assignment_events(self) -> None:
        assert (self.state.assignee_id, self.state.team_id) == self.assignment
        last = self.last_assignment
        if last is None or isinstance(last, ConversationUnassigned):
            assert self.state.assignee_id is None  # unassigned: no assignee
        else:
            assert self.state.assignee_id == last.agent_id

    @invariant()
    def the_state_knows_the_last_seq_and_status(self) -> None:
        assert self.state.last_seq == len(self.senders)
        assert self.state.status is self.status


SupportConversationMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestSupportConversation = SupportConversationMachine.TestCase
