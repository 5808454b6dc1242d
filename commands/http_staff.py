"""HTTP endpoints of the staff directory and of assignment: requests to commands.

Agents and teams go through the :class:`~commands.staff_handler.StaffHandler`
(one stream each); an assignment is a conversation command and goes through
the :class:`~commands.handler.CommandHandler`, after one look at the
directory: the agent and team it names must exist. Who may do what is
:mod:`commands.access`'s (via the deciders); errors become JSON in
``parley.http_errors``. In an agent path, ``me`` is the caller.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID, uuid4

import msgspec
from litestar import Request, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter

from commands import access, errors
from commands.handler import CommandResult
from commands.http import CommandContext, SeenVersion, provide_context
from commands.model import Actor, AssignConversation, CommandId
from commands.staff import (
    AddTeamMember,
    AgentCommand,
    CreateTeam,
    RemoveTeamMember,
    SetAvailability,
    TeamCommand,
    UpdateAgent,
)
from commands.staff_handler import StaffHandler, StaffResult
from events.catalogue import Availability, Capacity, Name, StaffId

ME = "me"
"""In an agent path, the caller."""
PathId = Annotated[str, PathParameter(min_length=1, max_length=200, pattern=r"^[^\x00\s/]+\Z")]
"""An agent or team id in a path: what :data:`~events.catalogue.StaffId` allows."""


def _valid(value: object, kind: Any) -> bool:
    """Whether ``value`` passes the constraints of ``kind`` (an Annotated type)."""
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError:
        return False
    return True


# -- bodies: unknown fields are refused (400), so a typo never passes silently ---------


class AvailabilityChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    availability: Availability


class AgentChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    display_name: Name | None = None
    capacity: Capacity | None = None
    """Admins only: the most open conversations the router gives this agent."""


class NewTeam(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    team_id: StaffId | None = None
    """Leave out to derive it from the name (its slug), or a UUID if the name has none."""
    routing: bool = True


class Assignment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An agent (who keeps the conversation's team), a team (its queue), both,
    or neither (``{}``: nobody, no team). The reason is always ``manual``:
    ``router`` and ``agent_offline`` are the router's."""

    agent_id: StaffId | None = None
    team_id: StaffId | None = None
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


class TeamResult(StaffResult, frozen=True, kw_only=True):
    """A created team's result, with its (perhaps minted) id."""

    team_id: str


# -- the context -----------------------------------------------------------------------


@dataclass(frozen=True)
class StaffContext:
    """Who asks, the directory's handler, and the conversation commands' context."""

    commands: CommandContext
    directory: StaffHandler

    @property
    def actor(self) -> Actor:
        return self.commands.actor

    async def handle(self, command: AgentCommand | TeamCommand) -> StaffResult:
        return await self.directory.handle(command, self.actor)

    def agent_id(self, path_id: str, what: str) -> str:
        """The agent a path names: ``me`` is the caller, who must be staff and
        whose id must be one an agent may have."""
        if path_id != ME:
            return path_id
        access.require_agent_self_or_admin(self.actor, self.actor.id, what)
        if not _valid(self.actor.id, StaffId):
            raise errors.InvalidCommand("your id cannot name an agent (blanks or slashes)")
        return self.actor.id


def provide_staff_context(request: Request[Any, Any, Any]) -> StaffContext:
    """The app keeps the ``staff_handler`` in its state, beside ``command_handler``."""
    return StaffContext(provide_context(request), request.app.state.staff_handler)


def _display_name_of(actor: Actor) -> Actor:
    """The actor, without a ``name`` claim that could not be a display name."""
    if actor.name is None or _valid(actor.name, Name):
        return actor
    return msgspec.structs.replace(actor, name=None)


def mint_team_id(name: str) -> str:
    """A team id from its name: its ASCII slug (``"Billing & Refunds"`` ->
    ``billing-refunds``), or a UUID if the name has no letter or digit."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")
    return slug or str(uuid4())


async def require_known(directory: StaffHandler, agent_id: str | None, team_id: str | None) -> None:
    """404 ``agent_not_found`` / ``team_not_found`` unless the agent and the
    team an assignment names are in the directory."""
    if agent_id is not None and not (await directory.agent(agent_id))[0].registered:
        raise errors.AgentNotFound(f"no agent {agent_id!r}", field="agent_id")
    if team_id is not None and not (await directory.team(team_id))[0].created:
        raise errors.TeamNotFound(f"no team {team_id!r}", field="team_id")


# -- agents ----------------------------------------------------------------------------


@put("/agents/{agent_id:str}/availability", summary="Set an agent's availability")
async def set_availability(
    agent_id: PathId,
    data: JSONBody[AvailabilityChange],
    staff: NamedDependency[StaffContext],
) -> StaffResult:
    """``me``: the caller (registered on first use, named by the token's
    ``name``); another agent: admins only."""
    who = staff.agent_id(agent_id, "availability")
    command = SetAvailability(agent_id=who, availability=data.availability)
    return await staff.directory.handle(command, _display_name_of(staff.actor))


@put("/agents/{agent_id:str}", summary="Change an agent's display name and/or capacity")
async def update_agent(
    agent_id: PathId,
    data: JSONBody[AgentChanges],
    staff: NamedDependency[StaffContext],
) -> StaffResult:
    who = staff.agent_id(agent_id, "display name")
    return await staff.handle(UpdateAgent(agent_id=who, **msgspec.structs.asdict(data)))


# -- teams -----------------------------------------------------------------------------


@post("/teams", status_code=201, summary="Create a team")
async def create_team(data: JSONBody[NewTeam], staff: NamedDependency[StaffContext]) -> TeamResult:
    team_id = data.team_id or mint_team_id(data.name)
    result = await staff.handle(CreateTeam(team_id=team_id, name=data.name, routing=data.routing))
    return TeamResult(team_id=team_id, **msgspec.structs.asdict(result))


@post(
    "/teams/{team_id:str}/members/{agent_id:str}",
    status_code=201,
    summary="Add an agent to a team",
)
async def add_team_member(
    team_id: PathId, agent_id: PathId, staff: NamedDependency[StaffContext]
) -> StaffResult:
    who = staff.agent_id(agent_id, "teams")
    return await staff.handle(AddTeamMember(team_id=team_id, agent_id=who))


@delete(
    "/teams/{team_id:str}/members/{agent_id:str}",
    status_code=200,
    summary="Remove an agent from a team",
)
async def remove_team_member(
    team_id: PathId, agent_id: PathId, staff: NamedDependency[StaffContext]
) -> StaffResult:
    who = staff.agent_id(agent_id, "teams")
    return await staff.handle(RemoveTeamMember(team_id=team_id, agent_id=who))


# -- assignment ------------------------------------------------------------------------


@post(
    "/conversations/{conversation_id:uuid}/assignment",
    status_code=200,
    summary="Assign the conversation to an agent and/or a team, or unassign it ({})",
)
async def assign_conversation(
    conversation_id: FromPath[UUID],
    data: JSONBody[Assignment],
    staff: NamedDependency[StaffContext],
) -> CommandResult:
    access.require_manage(staff.actor, "assign conversations")  # before saying who exists
    await require_known(staff.directory, data.agent_id, data.team_id)
    command = AssignConversation(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await staff.commands.handle(command)


STAFF_HANDLERS = [
    set_availability,
    update_agent,
    create_team,
    add_team_member,
    remove_team_member,
    assign_conversation,
]
"""The directory's and assignment's endpoints, mounted under /api by the app,
which provides ``staff`` (see ``provide_staff_context``)."""
