"""The staff directory's command handler: load, fold, decide, append.

Agent and team streams are short and rarely written, so each command reads
its stream whole (no cache) and appends with the version it read as the
expected one; a conflict with a concurrent writer is retried from fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from uuid import UUID, uuid4

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
from commands.whole_stream import Written, decide_and_append
from events.catalogue import AnyStaffEvent
from events.envelope import RecordedEvent
from events.store import EventStore

StaffResult = Written
"""What a staff-directory command did (see :class:`commands.whole_stream.Written`)."""


class StaffHandler:
    def __init__(
        self, store: EventStore, *, new_id: Callable[[], UUID] = uuid4, max_attempts: int = 10
    ) -> None:
        self._store = store
        self._new_id = new_id
        self._attempts = max_attempts

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
        async def decide(page: list[RecordedEvent]) -> list[AnyStaffEvent]:
            if isinstance(command, AgentCommand):
                agent = reduce(evolve_agent, (e.data for e in page), AgentState())
                return decide_agent(agent, command, actor)
            team = reduce(evolve_team, (e.data for e in page), TeamState())
            known = True
            if isinstance(command, AddTeamMember):
                known = (await self.agent(command.agent_id))[0].registered
            return decide_team(team, command, actor, agent_known=known)

        if isinstance(command, AgentCommand):
            stream_id = agent_stream(command.agent_id)
        else:
            stream_id = team_stream(command.team_id)
        written, _ = await decide_and_append(
            self._store,
            stream_id,
            decide,
            actor,
            new_id=self._new_id,
            max_attempts=self._attempts,
        )
        return written
