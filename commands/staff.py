"""The staff directory: agents and teams, each a stream of its own.

An agent's stream (``agent-<id>``) holds their profile (display name,
capacity: the most open conversations they handle at once) and availability;
a team's (``team-<id>``) its name, whether its router assigns, and its
members. Pure, like the conversation decider: ``decide_agent`` and
``decide_team`` take the state and the command and return events.

Who may do what (one place, :mod:`commands.access`): staff set their own
availability and display name; admins set anyone's, and capacities, and
manage teams.
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec.structs import replace

from commands import access, errors
from commands.model import Actor, Command
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
    AnyStaffEvent,
    Availability,
    Capacity,
    Name,
    StaffId,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
)

DEFAULT_CAPACITY: Final = 10
"""A new agent's capacity until an admin sets another."""


def agent_stream(agent_id: str) -> str:
    return f"agent-{agent_id}"


def team_stream(team_id: str) -> str:
    return f"team-{team_id}"


# -- commands --------------------------------------------------------------------------


class SetAvailability(Command, frozen=True, kw_only=True):
    """Online, away or offline. An agent not yet in the directory is
    registered by it (display name: the token's ``name``, else the id)."""

    agent_id: StaffId
    availability: Availability


class UpdateAgent(Command, frozen=True, kw_only=True):
    agent_id: StaffId
    display_name: Name | None = None
    capacity: Capacity | None = None


class CreateTeam(Command, frozen=True, kw_only=True):
    team_id: StaffId
    name: Name
    routing: bool = True


class AddTeamMember(Command, frozen=True, kw_only=True):
    team_id: StaffId
    agent_id: StaffId


class RemoveTeamMember(Command, frozen=True, kw_only=True):
    team_id: StaffId
    agent_id: StaffId


AgentCommand = SetAvailability | UpdateAgent
TeamCommand = CreateTeam | AddTeamMember | RemoveTeamMember


# -- states ----------------------------------------------------------------------------


class AgentState(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str | None = None
    display_name: str = ""
    capacity: int = DEFAULT_CAPACITY
    availability: Availability = Availability.OFFLINE

    @property
    def registered(self) -> bool:
        return self.agent_id is not None


class TeamState(msgspec.Struct, frozen=True, kw_only=True):
    team_id: str | None = None
    name: str = ""
    routing: bool = True
    members: frozenset[str] = frozenset()

    @property
    def created(self) -> bool:
        return self.team_id is not None


def evolve_agent(state: AgentState, event: AnyEvent) -> AgentState:
    match event:
        case AgentRegistered():
            return AgentState(
                agent_id=event.agent_id, display_name=event.display_name, capacity=event.capacity
            )
        case AgentProfileChanged():
            return replace(
                state,
                display_name=event.display_name or state.display_name,
                capacity=state.capacity if event.capacity is None else event.capacity,
            )
        case AgentAvailabilityChanged():
            return replace(state, availability=event.availability)
    return state


def evolve_team(state: TeamState, event: AnyEvent) -> TeamState:
    match event:
        case TeamCreated():
            return TeamState(team_id=event.team_id, name=event.name, routing=event.routing)
        case TeamMemberAdded():
            return replace(state, members=state.members | {event.agent_id})
        case TeamMemberRemoved():
            return replace(state, members=state.members - {event.agent_id})
    return state


# -- deciders --------------------------------------------------------------------------


def decide_agent(state: AgentState, command: AgentCommand, actor: Actor) -> list[AnyStaffEvent]:
    """The events ``command`` causes on an agent's profile in ``state``."""
    match command:
        case SetAvailability():
            access.require_agent_self_or_admin(actor, command.agent_id, "availability")
            events: list[AnyStaffEvent] = []
            if not state.registered:
                name = actor.name if actor.id == command.agent_id and actor.name else None
                events.append(_register(command.agent_id, name or command.agent_id))
            if command.availability is not state.availability:
                events.append(
                    AgentAvailabilityChanged(
                        agent_id=command.agent_id, availability=command.availability
                    )
                )
            return events
        case UpdateAgent():
            if command.capacity is not None:
                access.require_admin(actor, "set an agent's capacity")
            access.require_agent_self_or_admin(actor, command.agent_id, "display name")
            if command.display_name is None and command.capacity is None:
                raise errors.InvalidCommand("nothing to update: give display_name and/or capacity")
            if not state.registered:
                registered = _register(command.agent_id, command.display_name or command.agent_id)
                given = registered.capacity if command.capacity is None else command.capacity
                return [replace(registered, capacity=given)]
            name = command.display_name if command.display_name != state.display_name else None
            capacity = command.capacity if command.capacity != state.capacity else None
            if name is None and capacity is None:
                return []
            return [
                AgentProfileChanged(agent_id=command.agent_id, display_name=name, capacity=capacity)
            ]


def decide_team(
    state: TeamState, command: TeamCommand, actor: Actor, *, agent_known: bool = True
) -> list[AnyStaffEvent]:
    """The events ``command`` causes on a team in ``state``; ``agent_known``:
    whether the member-to-be is in the directory."""
    access.require_admin(actor, "manage teams")
    match command:
        case CreateTeam():
            if state.created:
                raise errors.TeamExists(f"team {command.team_id!r} exists already")
            return [
                TeamCreated(team_id=command.team_id, name=command.name, routing=command.routing)
            ]
        case AddTeamMember():
            _require_team(state)
            if not agent_known:
                raise errors.AgentNotFound(f"no agent {command.agent_id!r}", field="agent_id")
            if command.agent_id in state.members:
                return []
            return [TeamMemberAdded(team_id=command.team_id, agent_id=command.agent_id)]
        case RemoveTeamMember():
            _require_team(state)
            if command.agent_id not in state.members:
                return []
            return [TeamMemberRemoved(team_id=command.team_id, agent_id=command.agent_id)]


def _register(agent_id: str, display_name: str) -> AgentRegistered:
    """A new profile; a display name that is not a valid ``Name`` (a token's
    ``name`` claim may be anything) gives way to the id."""
    try:
        name = msgspec.convert(display_name, Name)
    except msgspec.ValidationError:
        name = agent_id
    return AgentRegistered(agent_id=agent_id, display_name=name, capacity=DEFAULT_CAPACITY)


def _require_team(state: TeamState) -> None:
    if not state.created:
        raise errors.TeamNotFound("no such team")
