"""Mention notifications: an agent marks theirs read (issue 17).

A note's mentions are notified by the notifications projection; reading
them is a fact in the agent's own stream (``agent-<id>``, beside their
profile): :class:`~events.catalogue.NotificationsRead`, up to a note's
global position or for some notes by id. Pure, like :mod:`commands.staff`:
``decide_notifications_read`` takes the state folded from the agent's
stream and the command; the handler (:mod:`commands.notifications_handler`)
does the I/O.
"""

from __future__ import annotations

from typing import Annotated, Final
from uuid import UUID

import msgspec
from msgspec.structs import replace

from commands import access, errors
from commands.model import Actor, Command
from events.catalogue import AnyEvent, AnyStaffEvent, NotificationsRead, StaffId

MAX_POSITION: Final = 2**63 - 1
"""Global positions are PostgreSQL ``bigint``s."""
MAX_NOTE_IDS: Final = 100
"""The most notes one command marks read by id."""

Position = Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)]
NoteIds = Annotated[tuple[UUID, ...], msgspec.Meta(max_length=MAX_NOTE_IDS)]


class MarkNotificationsRead(Command, frozen=True, kw_only=True):
    """Mark the agent's notifications read: those of notes up to the global
    position ``up_to_position`` (as far as the log has got), or those of
    ``note_ids``; exactly one of the two."""

    agent_id: StaffId
    up_to_position: Position | None = None
    note_ids: NoteIds = ()


class NotificationsState(msgspec.Struct, frozen=True, kw_only=True):
    """What the agent's stream says of their notifications: how far they
    have read by position."""

    read_up_to: int = 0


def evolve_notifications(state: NotificationsState, event: AnyEvent) -> NotificationsState:
    if isinstance(event, NotificationsRead) and event.up_to_position is not None:
        return replace(state, read_up_to=max(state.read_up_to, event.up_to_position))
    return state


def decide_notifications_read(
    state: NotificationsState, command: MarkNotificationsRead, actor: Actor
) -> list[AnyStaffEvent]:
    """Staff mark their own notifications read, nobody else's. Reading up to
    a position already read is a no-op."""
    access.require_manage(actor, "read notifications")
    if actor.id != command.agent_id:
        raise errors.Forbidden("staff mark only their own notifications read", field="agent_id")
    by_position = command.up_to_position is not None
    if by_position == bool(command.note_ids):
        raise errors.InvalidCommand("give either up_to_position or note_ids (not both)")
    if command.up_to_position is not None and command.up_to_position <= state.read_up_to:
        return []
    return [
        NotificationsRead(
            agent_id=command.agent_id,
            up_to_position=command.up_to_position,
            note_ids=tuple(dict.fromkeys(command.note_ids)),
        )
    ]
