"""The staff projection: the staff directory as the read API shows it —
``agents`` (profile, capacity, availability and since when), ``teams`` and
``team_members``. How many conversations an agent has open depends on the
conversations, so the read API counts it from the inbox's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from events.envelope import RecordedEvent
from projections.base import Statement

_REGISTERED = """
INSERT INTO agents (agent_id, display_name, capacity, availability, availability_since, position)
VALUES ($1, $2, $3, 'offline', $4, $5)
ON CONFLICT (agent_id) DO UPDATE
SET display_name = excluded.display_name, capacity = excluded.capacity, position = excluded.position
"""
_PROFILE = """
UPDATE agents SET display_name = coalesce($2, display_name), capacity = coalesce($3, capacity),
                  position = $4
WHERE agent_id = $1
"""
_AVAILABILITY = """
UPDATE agents SET availability = $2, availability_since = $3, position = $4 WHERE agent_id = $1
"""
_TEAM = """
INSERT INTO teams (team_id, name, routing, position) VALUES ($1, $2, $3, $4)
ON CONFLICT (team_id) DO UPDATE
SET name = excluded.name, routing = excluded.routing, position = excluded.position
"""
_MEMBER_ADDED = """
INSERT INTO team_members (team_id, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""
_MEMBER_REMOVED = "DELETE FROM team_members WHERE team_id = $1 AND agent_id = $2"


class StaffProjection:
    name: str = "staff"
    tables: tuple[str, ...] = ("agents", "teams", "team_members")

    def statements(self, event: RecordedEvent) -> list[Statement]:
        at, pos = event.recorded_at, event.global_position
        match event.data:
            case AgentRegistered() as e:
                return [(_REGISTERED, (e.agent_id, e.display_name, e.capacity, at, pos))]
            case AgentProfileChanged() as e:
                return [(_PROFILE, (e.agent_id, e.display_name, e.capacity, pos))]
            case AgentAvailabilityChanged() as e:
                return [(_AVAILABILITY, (e.agent_id, e.availability, at, pos))]
            case TeamCreated() as e:
                return [(_TEAM, (e.team_id, e.name, e.routing, pos))]
            case TeamMemberAdded() as e:
                return [(_MEMBER_ADDED, (e.team_id, e.agent_id))]
            case TeamMemberRemoved() as e:
                return [(_MEMBER_REMOVED, (e.team_id, e.agent_id))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return ()  # no personal field
