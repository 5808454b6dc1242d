"""Routing, the pure part: who should handle each waiting conversation.

The router (``commands.router``) folds the log into a :class:`Board` with
:func:`evolve_board` and asks :func:`route` and :func:`overdue` what to do;
nothing here reads a clock or a database: times come in as arguments.

The rules (docs/ARCHITECTURE.md, "Routing"):

- A conversation *waits* while it is open (active or pending), not deleted,
  in a team whose router is on, and without an agent. A snoozed one is set
  aside: it waits again from the moment it wakes (or its status changes).
- Higher priority first, then the longest waiting.
- Each goes to the team member who is online, under capacity, with the
  fewest open conversations; ties go to the longest idle (the earliest last
  assignment), then the smallest id.
- An agent offline (or never online since registering) for longer than the
  grace period has their open team conversations put back in their team's
  queue (``agent_offline``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    Availability,
    ConversationAssigned,
    ConversationDeleted,
    ConversationEvent,
    ConversationMerged,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUpdated,
    ConversationWoke,
    Priority,
    Status,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from events.envelope import RecordedEvent

RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
NEVER = datetime.min.replace(tzinfo=UTC)
LATER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Ticket:
    """What routing knows of a conversation."""

    conversation_id: UUID
    version: int
    """Its stream's version: a decision appends with it as the expected one."""
    priority: Priority
    open: bool = True
    team_id: str | None = None
    agent_id: str | None = None
    waiting_since: datetime | None = None
    snoozed: bool = False
    """Set aside until it wakes: it does not wait (but counts as its agent's)."""


@dataclass(frozen=True)
class Agent:
    agent_id: str
    capacity: int
    availability: Availability = Availability.OFFLINE
    since: datetime | None = None
    """When the availability last changed (or, until it first does, when the
    agent was registered: offline since then)."""
    last_assigned: datetime | None = None


@dataclass(frozen=True)
class Team:
    routing: bool
    members: frozenset[str] = frozenset()


@dataclass
class Board:
    """Routing's view of the log (mutable: the router folds into it in place)."""

    tickets: dict[UUID, Ticket] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    position: int = 0
    """The global position of the last event folded in."""

    def open_counts(self) -> Counter[str]:
        """Each agent's open conversations."""
        return Counter(t.agent_id for t in self.tickets.values() if t.open and t.agent_id)

    def waiting(self) -> list[Ticket]:
        """The conversations waiting for an agent in a routed team, in routing order."""
        queue = [
            t
            for t in self.tickets.values()
            if t.open and not t.snoozed and t.agent_id is None and t.team_id is not None
            and (team := self.teams.get(t.team_id)) is not None and team.routing
        ]  # fmt: skip
        return sorted(queue, key=lambda t: (RANK[t.priority], t.waiting_since or NEVER))


@dataclass(frozen=True)
class Decision:
    """Assign ``conversation_id`` (at ``version``) to ``agent_id`` in ``team_id``;
    ``agent_id`` None: put it back in ``team_id``'s queue."""

    conversation_id: UUID
    version: int
    team_id: str
    agent_id: str | None


def evolve_board(board: Board, event: RecordedEvent) -> None:
    """Fold one recorded event into ``board`` (in place)."""
    data, at = event.data, event.recorded_at
    board.position = max(board.position, event.global_position)
    match data:
        case ConversationStarted():
            board.tickets[data.conversation_id] = Ticket(
                conversation_id=data.conversation_id,
                version=event.stream_position,
                priority=data.priority,
                team_id=data.team_id,
                waiting_since=at,
            )
            return
        case AgentRegistered():  # offline from the start: since registering
            board.agents[data.agent_id] = Agent(data.agent_id, data.capacity, since=at)
        case AgentProfileChanged() if data.agent_id in board.agents and data.capacity is not None:
            board.agents[data.agent_id] = replace(
                board.agents[data.agent_id], capacity=data.capacity
            )
        case AgentAvailabilityChanged() if data.agent_id in board.agents:
            agent = board.agents[data.agent_id]
            board.agents[data.agent_id] = replace(agent, availability=data.availability, since=at)
        case TeamCreated():
            board.teams[data.team_id] = Team(routing=data.routing)
        case TeamMemberAdded() | TeamMemberRemoved() if data.team_id in board.teams:
            team = board.teams[data.team_id]
            members = (
                team.members | {data.agent_id}
                if isinstance(data, TeamMemberAdded)
                else team.members - {data.agent_id}
            )
            board.teams[data.team_id] = replace(team, members=members)
    if not isinstance(data, ConversationEvent) or data.conversation_id not in board.tickets:
        return
    ticket = board.tickets[data.conversation_id]
    ticket = replace(ticket, version=event.stream_position)
    match data:
        case ConversationAssigned():
            ticket = replace(ticket, agent_id=data.agent_id, team_id=data.team_id)
            if data.agent_id is None:
                ticket = replace(ticket, waiting_since=at)
            elif data.agent_id in board.agents:
                agent = board.agents[data.agent_id]
                board.agents[data.agent_id] = replace(agent, last_assigned=at)
        case ConversationUnassigned():
            ticket = replace(ticket, agent_id=None, team_id=data.team_id, waiting_since=at)
        case ConversationStatusChanged():
            resumed = (not ticket.open or ticket.snoozed) and data.to_status is not Status.CLOSED
            ticket = replace(ticket, open=data.to_status is not Status.CLOSED, snoozed=False)
            if resumed and ticket.agent_id is None:  # reopened or unsnoozed: waits from now
                ticket = replace(ticket, waiting_since=at)
        case ConversationSnoozed():
            ticket = replace(ticket, snoozed=True)
        case ConversationWoke():
            ticket = replace(ticket, snoozed=False)
            if ticket.agent_id is None:
                ticket = replace(ticket, waiting_since=at)
        case ConversationDeleted() | ConversationMerged():  # a merged one is closed for good
            ticket = replace(ticket, open=False)
        case ConversationUpdated() if data.priority is not None:
            ticket = replace(ticket, priority=data.priority)
    board.tickets[ticket.conversation_id] = ticket


def route(board: Board) -> list[Decision]:
    """Who takes each waiting conversation, in routing order. Never pushes an
    agent past capacity; a conversation nobody can take keeps waiting."""
    load = board.open_counts()
    idle = {a.agent_id: a.last_assigned or NEVER for a in board.agents.values()}
    decisions: list[Decision] = []
    for ticket in board.waiting():
        assert ticket.team_id is not None
        candidates = [
            agent
            for agent_id in board.teams[ticket.team_id].members
            if (agent := board.agents.get(agent_id)) is not None
            and agent.availability is Availability.ONLINE
            and load[agent_id] < agent.capacity
        ]  # fmt: skip
        if not candidates:
            continue
        chosen = min(candidates, key=lambda a: (load[a.agent_id], idle[a.agent_id], a.agent_id))
        load[chosen.agent_id] += 1
        idle[chosen.agent_id] = LATER  # just assigned: the least idle
        decisions.append(
            Decision(ticket.conversation_id, ticket.version, ticket.team_id, chosen.agent_id)
        )
    return decisions


def overdue(board: Board, now: datetime, grace: timedelta) -> list[Decision]:
    """Put back in their team's queue the open conversations of agents offline
    for longer than ``grace`` (conversations without a team stay theirs)."""
    gone = {
        a.agent_id
        for a in board.agents.values()
        if a.availability is Availability.OFFLINE and a.since is not None and now - a.since > grace
    }
    if not gone:  # the common case: no need to look at every ticket
        return []
    return [
        Decision(t.conversation_id, t.version, t.team_id, None)
        for t in board.tickets.values()
        if t.open and t.agent_id in gone and t.team_id is not None
    ]


def fold_board(events: Iterable[RecordedEvent], board: Board | None = None) -> Board:
    board = board or Board()
    for event in events:
        evolve_board(board, event)
    return board
