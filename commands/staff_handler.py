"""The staff directory's command handler: load, fold, decide, append.

Agent and team streams are short and rarely written, so each command reads
its stream whole (no cache) and appends with the version it read as the
expected one; a conflict with a concurrent writer is retried from fresh.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from functools import reduce
from uuid import UUID, uuid4

import msgspec

from commands import errors
from commands.model import Actor
from commands.staff import (
    AddTeamMember,
    AgentCommand,
    AgentState,
    TeamCommand,
    TeamState,
    agent_stream,
    decide_agent,
    decide_team,
    evolve_agent,
    evolve_team,
    team_stream,
)
from events.catalogue import AnyStaffEvent
from events.envelope import Metadata, NewEvent
from events.store import ConcurrencyError, EventStore, StoreUnavailable


class StaffResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a staff-directory command did: ``position`` is the global position
    of its last event (or of the stream's last event when nothing changed)."""

    stream_id: str
    position: int
    version: int
    events: list[str]


class StaffHandler:
    def __init__(
        self, store: EventStore, *, new_id: Callable[[], UUID] = uuid4, max_attempts: int = 10
    ) -> None:
        self._store = store
        self._new_id = new_id
        self._max_attempts = max_attempts

    async def agent(self, agent_id: str) -> tuple[AgentState, int, int]:
        """An agent's state, its stream's version and its last event's position."""
        page = await self._store.read_stream(agent_stream(agent_id))
        state = reduce(evolve_agent, (e.data for e in page), AgentState())
        return state, len(page), page[-1].global_position if page else 0

    async def team(self, team_id: str) -> tuple[TeamState, int, int]:
        page = await self._store.read_stream(team_stream(team_id))
        state = reduce(evolve_team, (e.data for e in page), TeamState())
        return state, len(page), page[-1].global_position if page else 0

    async def handle(self, command: AgentCommand | TeamCommand, actor: Actor) -> StaffResult:
        try:
            return await self._handle(command, actor)
        except StoreUnavailable as error:
            raise errors.Unavailable(
                "the event store is unavailable; retry", retry_after=int(error.retry_after) or 1
            ) from error

    async def _handle(self, command: AgentCommand | TeamCommand, actor: Actor) -> StaffResult:
        metadata = Metadata(actor_id=actor.id, actor_role=actor.role)
        for attempt in range(self._max_attempts):
            decided: list[AnyStaffEvent]
            if isinstance(command, AgentCommand):
                stream_id = agent_stream(command.agent_id)
                agent, version, position = await self.agent(command.agent_id)
                decided = decide_agent(agent, command, actor)
            else:
                stream_id = team_stream(command.team_id)
                team, version, position = await self.team(command.team_id)
                known = True
                if isinstance(command, AddTeamMember):
                    known = (await self.agent(command.agent_id))[0].registered
                decided = decide_team(team, command, actor, agent_known=known)
            if not decided:
                return StaffResult(
                    stream_id=stream_id, position=position, version=version, events=[]
                )
            new = [NewEvent(event_id=self._new_id(), data=e, metadata=metadata) for e in decided]
            try:
                appended = await self._store.append(stream_id, new, version)
            except ConcurrencyError:
                await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
                continue
            return StaffResult(
                stream_id=stream_id,
                position=appended.last_global_position,
                version=appended.last_stream_position,
                events=[e.type for e in new],
            )
        raise errors.Unavailable("the directory is too busy right now; try again")
