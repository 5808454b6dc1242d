"""Routing (commands.routing) as a Hypothesis state machine: conversations
start in teams, agents come and go and change capacity, teams change members,
conversations are closed, reopened, deleted and assigned by hand, and the
router runs (``route`` and ``overdue`` on a board folded from the log, its
decisions appended as commands through the decider and folded back).

A plain model, kept apart from the board, checks every router decision:

- **never past capacity**: each goes to an online member of the conversation's
  team whose open conversations (counted by the model) are below capacity,
  and to the least loaded of those;
- no conversation is assigned twice in a round, and each decision carries its
  stream's current version (its expected version);
- waiting order: higher priority first, then the longest waiting; a waiting
  conversation is never passed over for a later one an agent of its team took,
  and after a round nothing waits that an eligible agent could take;
- ``overdue`` requeues exactly the open, teamed conversations of agents
  offline longer than the grace period.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from commands import errors
from commands.decider import decide, evolve
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    AssignConversation,
    ChangeStatus,
    ConversationState,
    DeleteConversation,
    Role,
    StartConversation,
    UpdateConversation,
    stream_id_for,
)
from commands.routing import RANK, Board, Decision, evolve_board, fold_board, overdue, route
from commands.staff import (
    AddTeamMember,
    AgentState,
    CreateTeam,
    RemoveTeamMember,
    SetAvailability,
    TeamState,
    UpdateAgent,
    agent_stream,
    decide_agent,
    decide_team,
    evolve_agent,
    evolve_team,
    team_stream,
)
from events.catalogue import (
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
    event_type,
)
from events.envelope import Metadata, RecordedEvent

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

ADMIN = Actor(id="admin", role=Role.ADMIN)
ROUTER = Actor(id="router", role=Role.ADMIN)
AGENTS = ("ann", "ben", "cat", "dan", "eve")
ROUTED, MANUAL = ("billing", "sales"), "vip"  # vip: its router is off
GRACE = timedelta(minutes=5)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Conv:
    """The model's conversation."""

    priority: Priority
    team: str | None
    agent: str | None = None
    open: bool = True
    waiting_since: datetime = EPOCH


@dataclass
class Member:
    """The model's agent."""

    capacity: int
    since: datetime
    """Since when the availability is what it is (offline since registration)."""
    availability: Availability = Availability.OFFLINE


class RoutingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = EPOCH
        self.log: list[RecordedEvent] = []
        self.versions: dict[str, int] = {}
        self.board = Board()
        self.routing = False  # not while the directory is set up
        # The system's states, for the deciders to decide on.
        self.states: dict[uuid.UUID, ConversationState] = {}
        self.agent_states: dict[str, AgentState] = {}
        self.team_states: dict[str, TeamState] = {}
        # The model.
        self.convs: dict[uuid.UUID, Conv] = {}
        self.agents: dict[str, Member] = {}
        self.members: dict[str, set[str]] = {team: set() for team in (*ROUTED, MANUAL)}
        for team in self.members:
            self.team(CreateTeam(team_id=team, name=team, routing=team != MANUAL))
        # Four agents start online, with capacity 2, two in each routed team;
        # the fifth is in the directory (an admin added her) but never came.
        for agent in AGENTS:
            self.agent(UpdateAgent(agent_id=agent, capacity=2), ADMIN)
            self.agents[agent] = Member(capacity=2, since=self.now)
        for agent, team in zip(AGENTS, [*ROUTED, *ROUTED, None], strict=True):
            if team is not None:
                self.availability(agent, Availability.ONLINE)
                self.membership(team, agent, join=True)
        self.routing = True

    # -- the shell: decide, record, fold -------------------------------------------------

    def record(self, stream_id: str, events: list[AnyEvent], actor: Actor) -> None:
        for data in events:
            version = self.versions.get(stream_id, 0) + 1
            self.versions[stream_id] = version
            recorded = RecordedEvent(
                global_position=len(self.log) + 1,
                stream_id=stream_id,
                stream_position=version,
                event_id=uuid.uuid4(),
                type=event_type(data),
                data=data,
                metadata=Metadata(actor_id=actor.id, actor_role=actor.role),
                recorded_at=self.now,
            )
            self.log.append(recorded)
            evolve_board(self.board, recorded)

    def agent(self, command: SetAvailability | UpdateAgent, actor: Actor) -> None:
        state = self.agent_states.get(command.agent_id, AgentState())
        events = decide_agent(state, command, actor)
        for event in events:
            state = evolve_agent(state, event)
        self.agent_states[command.agent_id] = state
        self.record(agent_stream(command.agent_id), list(events), actor)

    def team(self, command: CreateTeam | AddTeamMember | RemoveTeamMember) -> None:
        state = self.team_states.get(command.team_id, TeamState())
        events = decide_team(state, command, ADMIN)
        for event in events:
            state = evolve_team(state, event)
        self.team_states[command.team_id] = state
        self.record(team_stream(command.team_id), list(events), ADMIN)

    def conversation(self, cid: uuid.UUID, command: AnyCommand, actor: Actor) -> list[AnyEvent]:
        state = self.states.get(cid, INITIAL_STATE)
        try:
            events: list[AnyEvent] = list(decide(state, command, actor, uuid.uuid4, NOW))
        except errors.DomainError:
            return []
        for event in events:
            state = evolve(state, event)
            self.model(cid, event)
        self.states[cid] = state
        self.record(stream_id_for(cid), events, actor)
        return events

    def model(self, cid: uuid.UUID, event: AnyEvent) -> None:
        """The model's own reading of a conversation event."""
        if isinstance(event, ConversationStarted):
            self.convs[cid] = Conv(event.priority, event.team_id, waiting_since=self.now)
            return
        conv = self.convs[cid]
        match event:
            case ConversationAssigned():
                conv.agent, conv.team = event.agent_id, event.team_id
                if event.agent_id is None:
                    conv.waiting_since = self.now
            case ConversationUnassigned():
                conv.agent, conv.team, conv.waiting_since = None, event.team_id, self.now
            case ConversationStatusChanged():
                if not conv.open and conv.agent is None:
                    conv.waiting_since = self.now  # reopened: waits from now
                conv.open = event.to_status is not Status.CLOSED
            case ConversationDeleted():
                conv.open = False
            case ConversationUpdated() if event.priority is not None:
                conv.priority = event.priority

    # -- the model's questions ---------------------------------------------------------

    def load(self, agent: str) -> int:
        return sum(1 for c in self.convs.values() if c.open and c.agent == agent)

    def eligible(self, team: str) -> set[str]:
        return {
            a
            for a in self.members[team]
            if self.agents[a].availability is Availability.ONLINE
            and self.load(a) < self.agents[a].capacity
        }

    def waiting(self) -> dict[uuid.UUID, Conv]:
        return {
            cid: c
            for cid, c in self.convs.items()
            if c.open and c.agent is None and c.team in ROUTED
        }

    # -- rules: the world ----------------------------------------------------------------

    @rule(
        arrivals=st.lists(
            st.tuples(st.sampled_from([*ROUTED, *ROUTED, MANUAL, None]), st.sampled_from(Priority)),
            min_size=1,
            max_size=4,
        )
    )
    def conversations_arrive(self, arrivals: list[tuple[str | None, Priority]]) -> None:
        for team, priority in arrivals:
            self.now += timedelta(seconds=1)  # one after the other
            cid = uuid.UUID(int=len(self.convs) + 1)
            client = Client(id=f"c-{cid.int}", name="Client")
            command = StartConversation(
                conversation_id=cid, client=client, channel=Channel.WEB, priority=priority,
                team_id=team,
            )  # fmt: skip
            assert self.conversation(cid, command, ADMIN)
        self.router_round()

    @rule(
        agent=st.sampled_from(AGENTS),
        availability=st.sampled_from([*Availability, Availability.OFFLINE]),
    )
    def availability(self, agent: str, availability: Availability) -> None:
        member = self.agents[agent]
        if availability is not member.availability:
            member.availability, member.since = availability, self.now
        self.agent(SetAvailability(agent_id=agent, availability=availability), Actor(
            id=agent, role=Role.AGENT
        ))  # fmt: skip
        self.router_round()

    @rule(agent=st.sampled_from(AGENTS), capacity=st.integers(0, 3))
    def capacity(self, agent: str, capacity: int) -> None:
        self.agents[agent].capacity = capacity
        self.agent(UpdateAgent(agent_id=agent, capacity=capacity), ADMIN)
        self.router_round()

    @rule(
        team=st.sampled_from([*ROUTED, MANUAL]), agent=st.sampled_from(AGENTS), join=st.booleans()
    )
    def membership(self, team: str, agent: str, join: bool) -> None:
        if join:
            self.members[team].add(agent)
            self.team(AddTeamMember(team_id=team, agent_id=agent))
        else:
            self.members[team].discard(agent)
            self.team(RemoveTeamMember(team_id=team, agent_id=agent))
        self.router_round()

    @precondition(lambda self: self.convs)
    @rule(data=st.data(), to=st.sampled_from(Status))
    def change_status(self, data: st.DataObject, to: Status) -> None:
        cid = data.draw(st.sampled_from(sorted(self.convs)))
        self.conversation(cid, ChangeStatus(conversation_id=cid, status=to), ADMIN)
        self.router_round()

    @precondition(lambda self: self.convs)
    @rule(data=st.data(), priority=st.sampled_from(Priority))
    def reprioritise(self, data: st.DataObject, priority: Priority) -> None:
        cid = data.draw(st.sampled_from(sorted(self.convs)))
        self.conversation(cid, UpdateConversation(conversation_id=cid, priority=priority), ADMIN)
        self.router_round()

    @precondition(lambda self: self.convs)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(sorted(self.convs)))
        self.conversation(cid, DeleteConversation(conversation_id=cid), ADMIN)
        self.router_round()

    @precondition(lambda self: self.convs)
    @rule(
        data=st.data(),
        agent=st.sampled_from([None, *AGENTS]),
        team=st.sampled_from([None, *ROUTED, MANUAL]),
    )
    def assign_by_hand(self, data: st.DataObject, agent: str | None, team: str | None) -> None:
        # By hand, an agent may be given more than their capacity.
        cid = data.draw(st.sampled_from(sorted(self.convs)))
        command = AssignConversation(conversation_id=cid, agent_id=agent, team_id=team)
        self.conversation(cid, command, ADMIN)
        self.router_round()

    # -- rules: the router -------------------------------------------------------------

    def apply(self, decision: Decision, reason: AssignReason) -> None:
        cid = decision.conversation_id
        # A decision appends with the version it saw as the expected one.
        assert decision.version == self.versions[stream_id_for(cid)]
        command = AssignConversation(
            conversation_id=cid, agent_id=decision.agent_id, team_id=decision.team_id, reason=reason
        )
        [event] = self.conversation(cid, command, ROUTER)
        assert isinstance(event, ConversationAssigned | ConversationUnassigned)

    @rule(seconds=st.sampled_from([1, 299, 301, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.router_round()

    def router_round(self) -> None:
        """The router's turn (it runs after every change, and on a timer): it
        requeues the absent agents' conversations, then routes what waits."""
        if self.routing:
            self.requeue_the_absent()
            self.route()

    def route(self) -> None:
        decisions = route(self.board)
        assert len({d.conversation_id for d in decisions}) == len(decisions)  # none twice
        waiting = self.waiting()
        assigned: list[tuple[uuid.UUID, str]] = []
        for decision in decisions:
            cid, agent = decision.conversation_id, decision.agent_id
            conv = waiting[cid]  # only a waiting conversation is routed
            assert agent is not None and conv.team == decision.team_id
            team = decision.team_id
            # Never past capacity: an online member of its team, under capacity
            # at this very moment, and the least loaded of those.
            assert agent in self.eligible(team)
            assert self.load(agent) == min(self.load(a) for a in self.eligible(team))
            self.apply(decision, AssignReason.ROUTER)
            assigned.append((cid, agent))
        # Higher priority first, then the longest waiting.
        keys = [(RANK[waiting[c].priority], waiting[c].waiting_since) for c, _ in assigned]
        assert keys == sorted(keys)
        # Nobody of a passed-over conversation's team took a later one.
        for conv in self.waiting().values():
            assert conv.team is not None
            assert not self.eligible(conv.team), "an agent could take it, but it waits"
            key = (RANK[conv.priority], conv.waiting_since)
            later = {
                a
                for c, a in assigned
                if key < (RANK[waiting[c].priority], waiting[c].waiting_since)
            }
            assert not later & self.members[conv.team]

    def requeue_the_absent(self) -> None:
        decisions = overdue(self.board, self.now, GRACE)
        gone = {
            a
            for a, m in self.agents.items()
            if m.availability is Availability.OFFLINE and self.now - m.since > GRACE
        }
        expected = {cid for cid, c in self.convs.items() if c.open and c.agent in gone and c.team}
        assert {d.conversation_id for d in decisions} == expected
        for decision in decisions:
            assert decision.agent_id is None
            assert decision.team_id == self.convs[decision.conversation_id].team
            self.apply(decision, AssignReason.AGENT_OFFLINE)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def the_board_counts_what_the_model_counts(self) -> None:
        counts = self.board.open_counts()
        assert {a: counts[a] for a in AGENTS} == {a: self.load(a) for a in AGENTS}
        assert {t.conversation_id for t in self.board.waiting()} == set(self.waiting())

    def teardown(self) -> None:
        # The board folded as it went equals the board folded from the whole log.
        assert fold_board(self.log) == self.board


RoutingMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestRouting = RoutingMachine.TestCase
