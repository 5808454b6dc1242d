"""The events outside conversations: the staff directory (one stream per
agent, ``agent-<id>``, one per team, ``team-<id>``) and the account-wide
catalogues (labels in the stream ``labels``, canned responses in
``canned-responses``). Re-exported by :mod:`events.catalogue`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from events.fields import (
    Availability,
    CannedCode,
    Capacity,
    Colour,
    Content,
    Event,
    LabelId,
    LabelName,
    Name,
    StaffId,
)


class AgentRegistered(Event, tag="AgentRegistered", frozen=True, kw_only=True):
    """A staff member's profile, from their first sign-in or an admin."""

    agent_id: StaffId
    display_name: Name
    capacity: Capacity


class AgentProfileChanged(Event, tag="AgentProfileChanged", frozen=True, kw_only=True):
    """Only what changed is set."""

    agent_id: StaffId
    display_name: Name | None = None
    capacity: Capacity | None = None


class AgentAvailabilityChanged(Event, tag="AgentAvailabilityChanged", frozen=True, kw_only=True):
    agent_id: StaffId
    availability: Availability


class TeamCreated(Event, tag="TeamCreated", frozen=True, kw_only=True):
    team_id: StaffId
    name: Name
    routing: bool = True
    """Whether the team's router assigns its waiting conversations."""


class TeamMemberAdded(Event, tag="TeamMemberAdded", frozen=True, kw_only=True):
    team_id: StaffId
    agent_id: StaffId


class TeamMemberRemoved(Event, tag="TeamMemberRemoved", frozen=True, kw_only=True):
    team_id: StaffId
    agent_id: StaffId


class NotificationsRead(Event, tag="NotificationsRead", frozen=True, kw_only=True):
    """In the agent's stream: their notifications (mentions) up to
    ``up_to_position`` (a note's global position) are read, or just those
    of ``note_ids``."""

    agent_id: StaffId
    up_to_position: Annotated[int, msgspec.Meta(ge=0)] | None = None
    note_ids: tuple[UUID, ...] = ()


# -- account-wide catalogues: the labels (stream ``labels``), canned responses -----------


class LabelCreated(Event, tag="LabelCreated", frozen=True, kw_only=True):
    label_id: LabelId
    name: LabelName
    colour: Colour


class LabelChanged(Event, tag="LabelChanged", frozen=True, kw_only=True):
    """Only what changed is set."""

    label_id: LabelId
    name: LabelName | None = None
    colour: Colour | None = None


class LabelDeleted(Event, tag="LabelDeleted", frozen=True, kw_only=True):
    """Gone from the catalogue (and from every conversation's labels as shown;
    the conversations' streams keep their history)."""

    label_id: LabelId


class CannedResponseCreated(Event, tag="CannedResponseCreated", frozen=True, kw_only=True):
    """``owner_id``: the agent whose own response it is; ``None``: shared."""

    response_id: UUID
    code: CannedCode
    content: Content
    owner_id: StaffId | None = None


class CannedResponseChanged(Event, tag="CannedResponseChanged", frozen=True, kw_only=True):
    response_id: UUID
    code: CannedCode | None = None
    content: Content | None = None


class CannedResponseDeleted(Event, tag="CannedResponseDeleted", frozen=True, kw_only=True):
    response_id: UUID
