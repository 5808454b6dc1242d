"""Marking notifications read: load the agent's stream, fold, decide,
append at the version read (as :class:`~commands.staff_handler.StaffHandler`
does for profiles; a conflict with a concurrent writer of the agent's stream
is retried from fresh)."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from uuid import UUID, uuid4

from commands.model import Actor
from commands.notifications import (
    MarkNotificationsRead,
    NotificationsState,
    decide_notifications_read,
    evolve_notifications,
)
from commands.staff import agent_stream
from commands.staff_handler import StaffResult
from commands.whole_stream import decide_and_append
from events.catalogue import AnyStaffEvent
from events.envelope import RecordedEvent
from events.store import EventStore


class NotificationsHandler:
    def __init__(
        self, store: EventStore, *, new_id: Callable[[], UUID] = uuid4, max_attempts: int = 10
    ) -> None:
        self._store = store
        self._new_id = new_id
        self._attempts = max_attempts

    async def handle(self, command: MarkNotificationsRead, actor: Actor) -> StaffResult:
        """Decide and append; ``position`` is the read's global position (a
        query may wait for it), or the stream's last when nothing changed."""

        async def decide(page: list[RecordedEvent]) -> list[AnyStaffEvent]:
            state = reduce(evolve_notifications, (e.data for e in page), NotificationsState())
            return decide_notifications_read(state, command, actor)

        stream_id = agent_stream(command.agent_id)
        written, _ = await decide_and_append(
            self._store,
            stream_id,
            decide,
            actor,
            new_id=self._new_id,
            max_attempts=self._attempts,
        )
        return written
