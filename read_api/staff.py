"""The staff directory's queries (staff only): ``GET /api/agents`` and
``GET /api/teams``.

``online`` is the agent's availability (``online``): the edge's presence
knows who is connected to a conversation's socket, not to the inbox, and
the read API does not reach into the edge (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from commands import access, errors
from commands.model import Actor
from read_api import errors as read_errors
from read_api.queries import DEFAULT_WAIT_SECONDS, MAX_POSITION, wait_for_position


class AgentView(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str
    display_name: str
    capacity: int
    availability: str
    availability_since: datetime
    open_count: int
    """Conversations assigned to them, not closed, not deleted."""
    online: bool
    """Their availability is ``online``."""
    teams: list[str]


class TeamView(msgspec.Struct, frozen=True, kw_only=True):
    team_id: str
    name: str
    routing: bool
    members: list[str]
    """Agent ids, sorted."""


class AgentList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AgentView]


class TeamList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TeamView]


_AGENTS = """
SELECT a.agent_id, a.display_name, a.capacity, a.availability, a.availability_since,
       (SELECT count(*) FROM conversations c
        WHERE c.assignee_id = a.agent_id AND c.status <> 'closed' AND NOT c.deleted) AS open_count,
       a.availability = 'online' AS online,
       array(SELECT m.team_id FROM team_members m WHERE m.agent_id = a.agent_id
             ORDER BY m.team_id) AS teams
FROM agents a
ORDER BY a.agent_id
"""
_TEAMS = """
SELECT t.team_id, t.name, t.routing,
       array(SELECT m.agent_id FROM team_members m WHERE m.team_id = t.team_id
             ORDER BY m.agent_id) AS members
FROM teams t
ORDER BY t.team_id
"""

MinPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_POSITION)]
Wait = Annotated[float, QueryParameter(ge=0, le=10)]


async def _ready(actor: Actor, pool: asyncpg.Pool, position: int | None, wait: float) -> None:
    if not access.can_see_staff(actor):
        raise errors.Forbidden("the staff directory is for staff")
    if position is None:
        return
    reached = await wait_for_position(pool, ("staff", "inbox"), position, wait)
    if reached is not None:
        raise read_errors.NotCaughtUp(
            f"the read models reached position {reached}, not {position}, in {wait:g} s",
            details={"reached_position": reached},
        )


@get("/agents", summary="Every agent: availability, capacity, open count, teams (staff)")
async def agents(
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> AgentList:
    await _ready(actor, pool, min_position, wait)
    return AgentList(items=[AgentView(**dict(r)) for r in await pool.fetch(_AGENTS)])


@get("/teams", summary="Every team with its members (staff)")
async def teams(
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> TeamList:
    await _ready(actor, pool, min_position, wait)
    return TeamList(items=[TeamView(**dict(r)) for r in await pool.fetch(_TEAMS)])


STAFF_HANDLERS = [agents, teams]
"""Mounted with the other queries (read_api.http.QUERY_HANDLERS)."""
