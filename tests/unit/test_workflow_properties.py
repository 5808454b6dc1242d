"""Properties of the support workflow (issue 17) over random command runs on
one conversation: snooze and wake obey the extended transition table, notes
and labels are never part of a client's view, and neither moves the
conversation's messages or unread counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from commands import access, errors
from commands.decider import TRANSITIONS, decide, evolve
from commands.model import (
    INITIAL_STATE,
    Actor,
    AddNote,
    AnyCommand,
    ChangeStatus,
    ConversationState,
    LabelConversation,
    Role,
    SendMessage,
    SnoozeConversation,
    StartConversation,
    UnlabelConversation,
    WakeConversation,
)
from events.catalogue import (
    STAFF_ONLY_EVENTS,
    AnyEvent,
    Channel,
    Client,
    ConversationLabelled,
    ConversationSnoozed,
    ConversationStatusChanged,
    ConversationUnlabelled,
    ConversationWoke,
    MessageSent,
    NoteAdded,
    Status,
    WakeReason,
)

CID = uuid.UUID("00000000-0000-4000-8000-0000000000bb")
ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
START_TIME = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

actors = st.sampled_from([ALICE, BOB, CAROL])
labels = st.sampled_from(["vip", "billing", "bug"])


class WorkflowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START_TIME
        self.state = INITIAL_STATE
        self.log: list[AnyEvent] = []
        self.messages = 0
        self.labels: set[str] = set()
        start = StartConversation(
            conversation_id=CID, client=Client(id="c-1", name="Carol"), channel=Channel.WEB
        )
        self.run(start, ALICE)

    def run(self, command: AnyCommand, actor: Actor) -> list[AnyEvent] | errors.DomainError:
        before = self.state
        try:
            events = decide(self.state, command, actor, uuid.uuid4, self.now)
        except errors.DomainError as refusal:
            return refusal
        for event in events:
            self.check(before, event)
            self.state = evolve(self.state, event)
            before = self.state
        self.log.extend(events)
        return list(events)

    def check(self, before: ConversationState, event: AnyEvent) -> None:
        """Every status an event leads to is in the table from the status before."""
        if isinstance(event, ConversationStatusChanged):
            assert event.from_status is before.status
            assert event.to_status in TRANSITIONS[before.status]
            assert event.to_status is not Status.SNOOZED  # only a snooze leads there
        if isinstance(event, ConversationSnoozed):
            assert event.from_status is before.status
            assert Status.SNOOZED in TRANSITIONS[before.status]
            assert event.until > self.now
        if isinstance(event, ConversationWoke):
            assert before.status is Status.SNOOZED
            assert Status.ACTIVE in TRANSITIONS[Status.SNOOZED]
            if event.reason is WakeReason.TIMER:
                assert before.snoozed_until is not None and before.snoozed_until <= self.now

    # -- rules ---------------------------------------------------------------------

    @rule(actor=actors)
    def send_message(self, actor: Actor) -> None:
        was = self.state.status
        outcome = self.run(SendMessage(conversation_id=CID, content="hello"), actor)
        if was is Status.CLOSED:
            assert isinstance(outcome, errors.ConversationClosed)
            return
        assert isinstance(outcome, list)
        self.messages += 1
        if was is Status.SNOOZED and not actor.is_staff:
            # The client's next message wakes the conversation first.
            assert [type(e) for e in outcome] == [ConversationWoke, MessageSent]
            assert self.state.status is Status.ACTIVE
        else:
            assert [type(e) for e in outcome] == [MessageSent]
            assert self.state.status is was

    @rule(to=st.sampled_from(Status), actor=actors)
    def change_status(self, to: Status, actor: Actor) -> None:
        outcome = self.run(ChangeStatus(conversation_id=CID, status=to), actor)
        if not actor.is_staff:
            assert isinstance(outcome, errors.Forbidden)
        elif to is Status.SNOOZED:
            assert isinstance(outcome, errors.InvalidCommand)

    @rule(actor=actors, minutes=st.integers(-10, 600))
    def snooze(self, actor: Actor, minutes: int) -> None:
        was = self.state.status
        until = self.now + timedelta(minutes=minutes)
        outcome = self.run(SnoozeConversation(conversation_id=CID, until=until), actor)
        if not actor.is_staff:
            assert isinstance(outcome, errors.Forbidden)
        elif was is Status.CLOSED:
            assert isinstance(outcome, errors.ConversationClosed)
        elif until <= self.now:
            assert isinstance(outcome, errors.InvalidCommand)
        else:
            assert self.state.status is Status.SNOOZED and self.state.snoozed_until == until

    @rule(minutes=st.integers(0, 700))
    def time_passes_and_the_waker_looks(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        was, until = self.state.status, self.state.snoozed_until
        outcome = self.run(WakeConversation(conversation_id=CID), ALICE)
        assert isinstance(outcome, list)
        due = was is Status.SNOOZED and until is not None and until <= self.now
        assert [type(e) for e in outcome] == ([ConversationWoke] if due else [])
        if due:
            assert self.state.status is Status.ACTIVE

    @rule(actor=actors, content=st.text(min_size=1, max_size=30).filter(str.strip))
    def add_note(self, actor: Actor, content: str) -> None:
        before = self.state
        outcome = self.run(AddNote(conversation_id=CID, content=content), actor)
        if not actor.is_staff:
            assert isinstance(outcome, errors.Forbidden)
            return
        assert isinstance(outcome, list) and [type(e) for e in outcome] == [NoteAdded]
        # A note is not a message: nothing of the conversation moves.
        assert self.state == before

    @rule(actor=actors, label=labels, on=st.booleans())
    def label(self, actor: Actor, label: str, on: bool) -> None:
        kind = LabelConversation if on else UnlabelConversation
        outcome = self.run(kind(conversation_id=CID, label_id=label), actor)
        if not actor.is_staff:
            assert isinstance(outcome, errors.Forbidden)
            return
        assert isinstance(outcome, list)
        if on:
            self.labels.add(label)
        else:
            self.labels.discard(label)

    @precondition(lambda self: self.state.status is Status.SNOOZED)
    @rule()
    def a_snoozed_conversation_cannot_be_snoozed_into_the_past(self) -> None:
        with pytest.raises(errors.InvalidCommand):
            decide(
                self.state,
                SnoozeConversation(conversation_id=CID, until=self.now),
                ALICE,
                uuid.uuid4,
                self.now,
            )

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def snoozed_exactly_when_it_has_an_until(self) -> None:
        assert (self.state.status is Status.SNOOZED) == (self.state.snoozed_until is not None)

    @invariant()
    def a_clients_view_has_no_note_and_no_label(self) -> None:
        seen_by_client = [e for e in self.log if access.can_see_event(CAROL, e)]
        assert not any(isinstance(e, STAFF_ONLY_EVENTS) for e in seen_by_client)
        assert all(access.can_see_event(BOB, e) for e in self.log)
        staff_only = (NoteAdded, ConversationLabelled, ConversationUnlabelled)
        assert len(seen_by_client) == sum(not isinstance(e, staff_only) for e in self.log)

    @invariant()
    def messages_and_labels_follow_the_model(self) -> None:
        assert self.state.last_seq == self.messages
        assert self.state.labels == self.labels


TestWorkflow = WorkflowMachine.TestCase
TestWorkflow.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
