"""Snooze and wake, the pure parts: the extended status table (P8) over every
pair of statuses, the snooze's ``until`` rules, the wake-ups (at ``until``,
at the client's next message), a random walk that never leaves the table,
the waker's rounds and command ids, and the router setting snoozed
conversations aside."""

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

from commands import errors, guard
from commands.decider import TRANSITIONS, decide, evolve
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    ChangeStatus,
    ConversationState,
    Role,
    SendMessage,
    SnoozeConversation,
    StartConversation,
    WakeConversation,
)
from commands.routing import route
from commands.waker import WAKER_ACTOR, Snoozed, next_round, wake_command
from events.catalogue import (
    AnyConversationEvent,
    Channel,
    Client,
    ConversationSnoozed,
    ConversationStatusChanged,
    ConversationWoke,
    MessageSent,
    Status,
    WakeReason,
)
from events.envelope import Metadata, RecordedEvent
from parley.settings import Settings, SettingsError
from tests.unit.test_routing import T0, Log

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CID = uuid.UUID("00000000-0000-4000-8000-0000000000bb")
ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
START = StartConversation(
    conversation_id=CID, client=Client(id="c-1", name="Carol"), channel=Channel.WEB
)


def ids() -> Callable[[], uuid.UUID]:
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def run(
    state: ConversationState, command: AnyCommand, actor: Actor = ALICE, now: datetime = NOW
) -> tuple[ConversationState, list[AnyConversationEvent]]:
    events = decide(state, command, actor, ids(), now)
    return reduce(evolve, events, state), events


def snooze(until: datetime = NOW + HOUR) -> SnoozeConversation:
    return SnoozeConversation(conversation_id=CID, until=until)


def in_status(status: Status) -> ConversationState:
    state, _ = run(INITIAL_STATE, START)
    if status is Status.SNOOZED:
        state, _ = run(state, snooze())
    elif status is not Status.ACTIVE:
        state, _ = run(state, ChangeStatus(conversation_id=CID, status=status))
    assert state.status is status
    return state


# -- the table (P8), every pair --------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(Status, Status)))
def test_every_pair_of_statuses_follows_the_table(src: Status, dst: Status) -> None:
    """Into ``snoozed`` only by a snooze (it needs an until); into any other
    status only by a status change; either only along the table."""
    state = in_status(src)
    if dst is Status.SNOOZED:
        with pytest.raises(errors.InvalidCommand, match="/snooze"):
            decide(state, ChangeStatus(conversation_id=CID, status=dst), ALICE, ids(), NOW)
        command: AnyCommand = snooze(NOW + 2 * HOUR)
    else:
        command = ChangeStatus(conversation_id=CID, status=dst)
    if dst not in TRANSITIONS[src]:
        expected = errors.ConversationClosed if dst is Status.SNOOZED else errors.InvalidTransition
        with pytest.raises(expected):
            decide(state, command, ALICE, ids(), NOW)
        return
    after, [event] = run(state, command)
    assert after.status is dst
    if dst is Status.SNOOZED:
        assert isinstance(event, ConversationSnoozed)
        assert (event.from_status, event.until, event.by) == (src, NOW + 2 * HOUR, "alice")
        assert after.snoozed_until == NOW + 2 * HOUR
    else:
        assert isinstance(event, ConversationStatusChanged)
        assert (event.from_status, event.to_status) == (src, dst)
        assert after.snoozed_until is None


def test_the_table_lets_every_open_status_snooze_and_every_snooze_end() -> None:
    assert {s for s in Status if Status.SNOOZED in TRANSITIONS[s]} == {
        Status.ACTIVE,
        Status.PENDING,
        Status.SNOOZED,
    }
    assert TRANSITIONS[Status.SNOOZED] == frozenset(Status)
    assert TRANSITIONS[Status.CLOSED] == {Status.ACTIVE}


# -- the until -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("until", "why"),
    [
        (datetime(2026, 12, 3, 13, 0), "time zone"),  # naive
        (NOW, "future"),
        (NOW - timedelta(seconds=1), "future"),
        (NOW + timedelta(days=366, seconds=1), "366 days"),
    ],
    ids=["naive", "now", "past", "too-far"],
)
def test_an_until_without_zone_not_ahead_or_too_far_is_refused(until: datetime, why: str) -> None:
    with pytest.raises(errors.InvalidCommand, match=why) as refused:
        decide(in_status(Status.ACTIVE), snooze(until), ALICE, ids(), NOW)
    assert refused.value.field == "until"


def test_an_until_366_days_ahead_in_any_zone_is_accepted() -> None:
    far = (NOW + timedelta(days=366)).astimezone(
        datetime.fromisoformat("2026-01-01T00:00:00+05:30").tzinfo
    )
    _, [event] = run(in_status(Status.ACTIVE), snooze(far))
    assert isinstance(event, ConversationSnoozed) and event.until == far


def test_snoozing_again_moves_the_until_and_the_same_until_changes_nothing() -> None:
    state = in_status(Status.SNOOZED)
    assert decide(state, snooze(NOW + HOUR), ALICE, ids(), NOW) == []
    after, [event] = run(state, snooze(NOW + 3 * HOUR))
    assert isinstance(event, ConversationSnoozed) and event.from_status is Status.SNOOZED
    assert after.snoozed_until == NOW + 3 * HOUR


def test_only_staff_snooze() -> None:
    with pytest.raises(errors.Forbidden):
        decide(in_status(Status.ACTIVE), snooze(), CAROL, ids(), NOW)
    assert decide(in_status(Status.ACTIVE), snooze(), BOB, ids(), NOW)


# -- waking ----------------------------------------------------------------------------


def test_the_waker_wakes_a_snooze_only_once_its_time_has_come() -> None:
    state, wake = in_status(Status.SNOOZED), WakeConversation(conversation_id=CID)
    assert decide(state, wake, WAKER_ACTOR, ids(), NOW + HOUR - timedelta(microseconds=1)) == []
    after, [event] = run(state, wake, WAKER_ACTOR, NOW + HOUR)
    assert event == ConversationWoke(conversation_id=CID, reason=WakeReason.TIMER)
    assert (after.status, after.snoozed_until) == (Status.ACTIVE, None)
    # Woken: a second wake finds nothing to do.
    assert decide(after, wake, WAKER_ACTOR, ids(), NOW + 2 * HOUR) == []


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.PENDING, Status.CLOSED])
def test_a_conversation_not_snoozed_is_never_woken(status: Status) -> None:
    wake = WakeConversation(conversation_id=CID)
    assert decide(in_status(status), wake, WAKER_ACTOR, ids(), NOW + 400 * 24 * HOUR) == []


def test_the_clients_next_message_wakes_it_at_once_before_the_message() -> None:
    after, [woke, sent] = run(
        in_status(Status.SNOOZED), SendMessage(conversation_id=CID, content="any news?"), CAROL
    )
    assert woke == ConversationWoke(conversation_id=CID, reason=WakeReason.CLIENT_MESSAGE)
    assert isinstance(sent, MessageSent) and sent.seq == 1
    assert (after.status, after.snoozed_until) == (Status.ACTIVE, None)


def test_a_staff_message_leaves_it_snoozed() -> None:
    after, [sent] = run(in_status(Status.SNOOZED), SendMessage(conversation_id=CID, content="hi"))
    assert isinstance(sent, MessageSent)
    assert (after.status, after.snoozed_until) == (Status.SNOOZED, NOW + HOUR)


# -- a random walk stays on the table --------------------------------------------------

_STEPS = st.lists(
    st.one_of(
        st.sampled_from([Status.ACTIVE, Status.PENDING, Status.CLOSED]).map(
            lambda s: ChangeStatus(conversation_id=CID, status=s)
        ),
        st.integers(-2, 5).map(lambda h: snooze(NOW + h * HOUR)),
        st.just(WakeConversation(conversation_id=CID)),
        st.sampled_from([ALICE, CAROL]).map(
            lambda a: SendMessage(conversation_id=CID, content=f"from {a.id}")
        ),
    ).flatmap(lambda c: st.tuples(st.just(c), st.integers(0, 6))),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given_(_STEPS)
def test_any_walk_of_snoozes_wakes_and_changes_stays_on_the_table(
    steps: list[tuple[AnyCommand, int]],
) -> None:
    state, _ = run(INITIAL_STATE, START)
    clock = NOW
    for command, hours in steps:
        clock += hours * HOUR / 2
        actor = CAROL if isinstance(command, SendMessage) and "carol" in command.content else ALICE
        try:
            events = decide(state, command, actor, ids(), clock)
        except errors.DomainError:
            continue
        for event in events:
            match event:
                case ConversationStatusChanged():
                    assert event.from_status is state.status
                    assert event.to_status in TRANSITIONS[state.status]
                case ConversationSnoozed():
                    assert event.from_status is state.status
                    assert Status.SNOOZED in TRANSITIONS[state.status]
                    assert event.until > clock
                case ConversationWoke():
                    assert state.status is Status.SNOOZED
                    assert state.snoozed_until is not None
                    if event.reason is WakeReason.TIMER:
                        assert state.snoozed_until <= clock  # never early
                    else:
                        assert isinstance(command, SendMessage) and actor is CAROL
            state = evolve(state, event)
            assert (state.status is Status.SNOOZED) == (state.snoozed_until is not None)
        if isinstance(command, SendMessage) and actor is CAROL:
            assert state.status is not Status.SNOOZED  # a client message always wakes it


# -- the waker's rounds ----------------------------------------------------------------

A, B = uuid.UUID(int=1), uuid.UUID(int=2)


def test_a_wake_is_named_by_its_snooze() -> None:
    first = wake_command(Snoozed(A, NOW, 4))
    assert first == wake_command(Snoozed(A, NOW + HOUR, 4))  # the same snooze, any waker
    assert first.command_id == f"wake:{A}:4"
    assert wake_command(Snoozed(A, NOW, 9)).command_id != first.command_id  # a later snooze


def test_a_round_wakes_the_due_and_sleeps_until_the_next_until_at_most_a_tick() -> None:
    earliest = [Snoozed(A, NOW - HOUR, 3), Snoozed(B, NOW + timedelta(seconds=0.1), 5)]
    this = next_round(earliest, NOW, tick=0.25)
    assert [s.conversation_id for s in this.due] == [A]
    assert this.sleep == pytest.approx(0.1)
    assert next_round(earliest[1:], NOW - HOUR, tick=0.25).sleep == 0.25
    assert next_round([], NOW, tick=0.25).sleep == 0.25


def test_a_round_skips_the_snoozes_done_while_the_inbox_still_shows_them() -> None:
    earliest = [Snoozed(A, NOW - HOUR, 3), Snoozed(B, NOW, 5)]
    this = next_round(earliest, NOW, done=[(A, 3)])
    assert [s.conversation_id for s in this.due] == [B]
    # A later snooze of A is a new one: due again.
    assert len(next_round([Snoozed(A, NOW, 7)], NOW, done=[(A, 3)]).due) == 1


def test_the_waker_is_on_by_default_and_can_be_turned_off() -> None:
    assert Settings.from_env({}).waker is True
    assert Settings.from_env({"PARLEY_WAKER": "off"}).waker is False
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PARLEY_WAKER": "sometimes"})
    assert caught.value.name == "PARLEY_WAKER"


def test_a_full_batch_of_due_snoozes_is_followed_at_once() -> None:
    full = [Snoozed(uuid.UUID(int=n), NOW - HOUR, 1) for n in range(3)]
    assert next_round(full, NOW, batch=3).sleep == 0.0
    done = [s.key for s in full]  # nothing left to do in it: no busy loop
    assert next_round(full, NOW, done=done, batch=3, tick=0.25).sleep == 0.25


# -- the router sets snoozed conversations aside ---------------------------------------


def _snoozed(cid: uuid.UUID) -> ConversationSnoozed:
    return ConversationSnoozed(
        conversation_id=cid, until=T0 + HOUR, from_status=Status.ACTIVE, by="ad"
    )


def test_a_snoozed_conversation_does_not_wait_and_waits_again_from_its_wake() -> None:
    log = Log().agent("ann", capacity=1).team("support", "ann")
    early, snoozed = log.start(), log.start()
    log.at(1).conversation(snoozed, _snoozed(snoozed))
    log.at(2).conversation(early, ConversationStatusChanged(
        conversation_id=early, from_status=Status.ACTIVE, to_status=Status.PENDING
    ))  # fmt: skip
    assert [d.conversation_id for d in route(log.board())] == [early]
    log.at(3).conversation(
        snoozed, ConversationWoke(conversation_id=snoozed, reason=WakeReason.TIMER)
    )
    board = log.board()
    assert board.tickets[snoozed].waiting_since == T0 + timedelta(minutes=3)
    # Woken later than ``early`` started: ``early`` goes first, to the only slot.
    assert [d.conversation_id for d in route(board)] == [early]


def test_a_status_change_out_of_a_snooze_waits_from_then() -> None:
    log = Log().agent("ann").team("support", "ann")
    cid = log.start()
    log.at(1).conversation(cid, _snoozed(cid))
    assert route(log.board()) == []
    log.at(5).conversation(cid, ConversationStatusChanged(
        conversation_id=cid, from_status=Status.SNOOZED, to_status=Status.PENDING
    ))  # fmt: skip
    board = log.board()
    assert board.tickets[cid].waiting_since == T0 + timedelta(minutes=5)
    assert [d.agent_id for d in route(board)] == ["ann"]


def test_an_agents_snoozed_conversation_still_counts_against_their_capacity() -> None:
    log = Log().agent("ann", capacity=1).team("support", "ann")
    mine = log.start()
    log.assign(mine, "ann").conversation(mine, _snoozed(mine))
    log.start()
    assert route(log.board()) == []  # ann is full: her snoozed one is still hers


# -- the stale-action guard ------------------------------------------------------------


def _recorded(data: AnyConversationEvent, actor: Actor, position: int) -> RecordedEvent:
    return RecordedEvent(
        global_position=position,
        stream_id=f"conversation-{CID}",
        stream_position=position,
        event_id=uuid.uuid4(),
        type=type(data).__name__,
        data=data,
        metadata=Metadata(actor_id=actor.id, actor_role=actor.role),
        recorded_at=NOW,
    )


def test_a_snooze_or_wake_by_someone_else_moves_the_conversation() -> None:
    snoozed = _recorded(
        ConversationSnoozed(conversation_id=CID, until=NOW, from_status=Status.ACTIVE, by="bob"),
        BOB,
        2,
    )
    woke = _recorded(ConversationWoke(conversation_id=CID, reason=WakeReason.TIMER), WAKER_ACTOR, 3)
    guard.check(1, 2, [snoozed], BOB)  # one's own snooze is not news to oneself
    with pytest.raises(errors.ConversationMoved) as moved:
        guard.check(1, 3, [snoozed, woke], ALICE)
    assert [e["type"] for e in moved.value.details["missed"]] == [
        "ConversationSnoozed",
        "ConversationWoke",
    ]
    # A client is told it was snoozed, not until when nor by whom.
    with pytest.raises(errors.ConversationMoved) as seen_by_client:
        guard.check(1, 2, [snoozed], CAROL)
    [missed] = seen_by_client.value.details["missed"]
    assert (missed["data"]["until"], missed["data"]["by"], missed["metadata"]) == (None, None, None)
