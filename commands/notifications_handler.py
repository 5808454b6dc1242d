"""Marking notifications read: load the agent's stream, fold, decide,
append at the version read (as :class:`~commands.staff_handler.StaffHandler`
does for profiles; a conflict with a concurrent writer of the agent's stream
is retried from fresh)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from functools import reduce
from uuid import UUID, uuid4

from commands import errors
from commands.model import Actor
from commands.notifications import (
    MarkNotificationsRead,
    NotificationsState,
    decide_notifications_read,
    evolve_notifications,
)
from commands.staff import agent_stream
from commands.staff_handler import StaffResult
from events.envelope import Metadata, NewEvent
from events.store import ConcurrencyError, EventStore, StoreUnavailable


class NotificationsHandler:
    def __init__(
        self, store: EventStore, *, new_id: Callable[[], UUID] = uuid4, max_attempts: int = 10
    ) -> None:
        self._store = store
        self._new_id = new_id
        self._max_attempts = max_attempts

    async def handle(self, command: MarkNotificationsRead, actor: Actor) -> StaffResult:
        """Decide and append; ``position`` is the read's global position (a
        query may wait for it), or the stream's last when nothing changed."""
        try:
            return await self._handle(command, actor)
        except StoreUnavailable as error:
            raise errors.Unavailable(
                "the event store is unavailable; retry", retry_after=int(error.retry_after) or 1
            ) from error

    async def _handle(self, command: MarkNotificationsRead, actor: Actor) -> StaffResult:
        stream_id = agent_stream(command.agent_id)
        metadata = Metadata(actor_id=actor.id, actor_role=actor.role)
        for attempt in range(self._max_attempts):
            page = await self._store.read_stream(stream_id)
            state = reduce(evolve_notifications, (e.data for e in page), NotificationsState())
            decided = decide_notifications_read(state, command, actor)
            if not decided:
                position = page[-1].global_position if page else 0
                return StaffResult(
                    stream_id=stream_id, position=position, version=len(page), events=[]
                )
            new = [NewEvent(event_id=self._new_id(), data=e, metadata=metadata) for e in decided]
            try:
                appended = await self._store.append(stream_id, new, len(page))
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
