"""Routing's rules, given a log, when route()/overdue() are asked, then these
decisions: fewest open first, ties by longest idle, higher priority then
longest waiting, never past capacity, only online members of routed teams,
and an offline agent's team conversations back in the queue after the grace.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.routing import Board, Decision, fold_board, overdue, route
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
    AssignReason,
    Availability,
    Channel,
    Client,
    ConversationAssigned,
    ConversationDeleted,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUpdated,
    Priority,
    Status,
    TeamCreated,
    TeamMemberAdded,
)
from events.envelope import Metadata, RecordedEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GRACE = timedelta(minutes=2)
ONLINE, AWAY, OFFLINE = Availability.ONLINE, Availability.AWAY, Availability.OFFLINE


class Log:
    """A log being written, minute by minute (``at``)."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.versions: Counter[str] = Counter()
        self.now = T0

    def at(self, minute: float) -> Log:
        self.now = T0 + timedelta(minutes=minute)
        return self

    def record(self, stream_id: str, data: AnyEvent) -> None:
        self.versions[stream_id] += 1
        self.events.append(
            RecordedEvent(
                global_position=len(self.events) + 1,
                stream_id=stream_id,
                stream_position=self.versions[stream_id],
                event_id=uuid4(),
                type=type(data).__name__,
                data=data,
                metadata=Metadata(),
                recorded_at=self.now,
            )
        )

    def agent(self, agent_id: str, capacity: int = 10, availability: Availability = ONLINE) -> Log:
        registered = AgentRegistered(agent_id=agent_id, display_name=agent_id, capacity=capacity)
        self.record(f"agent-{agent_id}", registered)
        if availability is not OFFLINE:
            self.available(agent_id, availability)
        return self

    def available(self, agent_id: str, availability: Availability) -> Log:
        data = AgentAvailabilityChanged(agent_id=agent_id, availability=availability)
        self.record(f"agent-{agent_id}", data)
        return self

    def team(self, team_id: str, *members: str, routing: bool = True) -> Log:
        self.record(f"team-{team_id}", TeamCreated(team_id=team_id, name=team_id, routing=routing))
        for member in members:
            self.record(f"team-{team_id}", TeamMemberAdded(team_id=team_id, agent_id=member))
        return self

    def start(self, team: str | None = "support", priority: Priority = Priority.MEDIUM) -> UUID:
        cid = uuid4()
        client = Client(id=f"client-{cid}", name="Client")
        self.record(
            f"conversation-{cid}",
            ConversationStarted(
                conversation_id=cid,
                client=client,
                channel=Channel.WEB,
                priority=priority,
                status=Status.ACTIVE,
                team_id=team,
            ),
        )
        return cid

    def conversation(self, cid: UUID, data: AnyEvent) -> Log:
        self.record(f"conversation-{cid}", data)
        return self

    def assign(self, cid: UUID, agent: str | None, team: str | None = "support") -> Log:
        return self.conversation(
            cid, ConversationAssigned(conversation_id=cid, agent_id=agent, team_id=team, by="ad")
        )

    def close(self, cid: UUID) -> Log:
        return self.conversation(
            cid,
            ConversationStatusChanged(
                conversation_id=cid, from_status=Status.ACTIVE, to_status=Status.CLOSED
            ),
        )

    def board(self) -> Board:
        return fold_board(self.events)


def assigned(board: Board) -> dict[UUID, str | None]:
    return {d.conversation_id: d.agent_id for d in route(board)}


# -- who takes a conversation ----------------------------------------------------------


def test_the_member_with_the_fewest_open_conversations_takes_it() -> None:
    log = Log().agent("ann").agent("bob").team("support", "ann", "bob")
    for _ in range(2):
        log.assign(log.start(), "ann")
    log.assign(log.start(), "bob")
    waiting = log.start()

    assert assigned(log.board()) == {waiting: "bob"}


def test_ties_go_to_the_longest_idle_and_never_assigned_is_the_longest() -> None:
    log = Log().agent("ann").agent("bob").agent("cy").team("support", "ann", "bob", "cy")
    # Ann was last given a conversation at minute 5, Bob at minute 3; both closed since.
    early = log.at(3).start()
    log.assign(early, "bob").close(early)
    later = log.at(5).start()
    log.assign(later, "ann").close(later)
    waiting = log.at(6).start()

    assert assigned(log.board()) == {waiting: "cy"}  # never assigned: the longest idle
    log.at(7).assign(waiting, "cy")
    second = log.start()
    assert assigned(log.board()) == {second: "bob"}  # idle since minute 3


def test_higher_priority_first_then_the_longest_waiting() -> None:
    log = Log().agent("ann", capacity=3).team("support", "ann")
    low = log.at(1).start(priority=Priority.LOW)
    old = log.at(2).start(priority=Priority.MEDIUM)
    new = log.at(3).start(priority=Priority.MEDIUM)
    high = log.at(4).start(priority=Priority.HIGH)

    decisions = route(log.board())

    assert [d.conversation_id for d in decisions] == [high, old, new]  # low: no room left
    assert low not in assigned(log.board())


def test_a_raised_priority_moves_a_conversation_up_the_queue() -> None:
    log = Log().agent("ann", capacity=1).team("support", "ann")
    first, second = log.at(1).start(), log.at(2).start()
    log.conversation(second, ConversationUpdated(conversation_id=second, priority=Priority.HIGH))

    assert assigned(log.board()) == {second: "ann"}
    assert first not in assigned(log.board())


def test_spreads_a_burst_evenly_and_never_past_capacity() -> None:
    log = Log().agent("ann", capacity=10).agent("bob", capacity=3).team("support", "ann", "bob")
    for _ in range(25):
        log.start()

    load = Counter(assigned(log.board()).values())

    assert load == {"ann": 10, "bob": 3}


def test_away_and_offline_agents_get_nothing() -> None:
    log = Log().agent("ann", availability=AWAY).agent("bob", availability=OFFLINE)
    log.agent("cy").team("support", "ann", "bob", "cy").available("cy", OFFLINE)
    log.start()

    assert route(log.board()) == []


def test_only_members_of_the_conversations_team_take_it() -> None:
    log = Log().agent("ann").agent("bob").team("support", "ann").team("sales", "bob")
    sales = log.start(team="sales")

    assert assigned(log.board()) == {sales: "bob"}


def test_a_team_whose_router_is_off_is_not_routed_nor_conversations_without_a_team() -> None:
    log = Log().agent("ann").team("support", "ann", routing=False)
    log.start(team="support")
    log.start(team=None)

    assert route(log.board()) == []


def test_a_decision_carries_the_version_it_was_decided_on() -> None:
    log = Log().agent("ann").team("support", "ann")
    cid = log.start()
    log.conversation(cid, ConversationUpdated(conversation_id=cid, summary="refund"))

    assert route(log.board()) == [Decision(cid, 2, "support", "ann")]


# -- what the board folds --------------------------------------------------------------


def test_closing_frees_a_slot_and_reopening_or_deleting_counts_again() -> None:
    log = Log().agent("ann", capacity=1).team("support", "ann")
    held = log.start()
    log.assign(held, "ann")
    waiting = log.start()
    assert route(log.board()) == []  # full

    log.close(held)
    assert assigned(log.board()) == {waiting: "ann"}

    log.conversation(waiting, ConversationDeleted(conversation_id=waiting))
    assert route(log.board()) == []  # deleted: waits for nobody


def test_a_capacity_change_applies_at_once() -> None:
    log = Log().agent("ann", capacity=0).team("support", "ann")
    cid = log.start()
    assert route(log.board()) == []

    log.record("agent-ann", AgentProfileChanged(agent_id="ann", capacity=1))
    assert assigned(log.board()) == {cid: "ann"}


def test_a_conversation_put_back_waits_behind_the_ones_already_waiting() -> None:
    log = Log().agent("ann", capacity=1).agent("bob", capacity=0).team("support", "ann", "bob")
    back = log.at(0).start()
    log.assign(back, "bob")
    older = log.at(1).start()
    log.at(2).conversation(
        back,
        ConversationUnassigned(
            conversation_id=back, agent_id="bob", team_id="support", by="router",
            reason=AssignReason.AGENT_OFFLINE,
        ),
    )  # fmt: skip

    assert assigned(log.board()) == {older: "ann"}


# -- re-queueing after the grace period ------------------------------------------------


def test_an_agent_offline_past_the_grace_has_their_team_conversations_put_back() -> None:
    log = Log().agent("ann").team("support", "ann")
    in_team, own = log.start(), log.start(team=None)
    log.assign(in_team, "ann").assign(own, "ann", team=None)
    log.at(10).available("ann", OFFLINE)
    board = log.board()

    assert overdue(board, T0 + timedelta(minutes=12), GRACE) == []  # not yet
    # Only the team conversation: one without a team stays theirs.
    late = T0 + timedelta(minutes=12, seconds=1)
    assert overdue(board, late, GRACE) == [Decision(in_team, 2, "support", None)]


def test_away_or_back_online_agents_keep_their_conversations() -> None:
    log = Log().agent("ann").agent("bob").team("support", "ann", "bob")
    log.assign(log.start(), "ann").assign(log.start(), "bob")
    log.at(1).available("ann", AWAY)
    log.available("bob", OFFLINE).at(2).available("bob", ONLINE)

    assert overdue(log.board(), T0 + timedelta(hours=1), GRACE) == []


def test_closed_conversations_are_not_put_back() -> None:
    log = Log().agent("ann").team("support", "ann")
    cid = log.start()
    log.assign(cid, "ann").close(cid).at(1).available("ann", OFFLINE)

    assert overdue(log.board(), T0 + timedelta(hours=1), GRACE) == []


def test_an_agent_never_online_counts_as_offline_since_registering() -> None:
    log = Log().team("support")
    log.at(1).agent("ann", availability=OFFLINE)
    cid = log.start()
    log.assign(cid, "ann")

    assert overdue(log.board(), T0 + timedelta(minutes=4), GRACE) == [
        Decision(cid, 2, "support", None)
    ]


# -- a property: whatever the board, route() keeps its promises --------------------------


@settings(max_examples=150, deadline=None)
@given(
    agents=st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(list(Availability)), st.integers(0, 4)),
        min_size=1,
        max_size=5,
    ),
    conversations=st.lists(st.sampled_from(list(Priority)), max_size=30),
)
def test_route_never_exceeds_a_capacity_and_picks_only_online_members(
    agents: list[tuple[int, Availability, int]], conversations: list[Priority]
) -> None:
    log = Log()
    names = [f"agent-{i}" for i in range(len(agents))]
    log.team("support", *names[:-1])  # the last agent is not a member
    for name, (capacity, availability, holding) in zip(names, agents, strict=True):
        log.agent(name, capacity=capacity, availability=availability)
        for _ in range(holding):  # already holds some (a person may go past capacity)
            log.assign(log.start(), name)
    for priority in conversations:
        log.start(priority=priority)
    board = log.board()
    before = board.open_counts()

    decisions = route(board)

    given_now = Counter(d.agent_id for d in decisions)
    for name, (capacity, availability, _) in zip(names, agents, strict=True):
        if given_now[name]:
            assert availability is ONLINE and name != names[-1]
            assert before[name] + given_now[name] <= capacity
    assert len({d.conversation_id for d in decisions}) == len(decisions)
    room = sum(
        max(0, capacity - before[name])
        for name, (capacity, availability, _) in zip(names[:-1], agents, strict=False)
        if availability is ONLINE
    )
    assert len(decisions) == min(room, len(board.waiting()))  # nobody idle while some wait
