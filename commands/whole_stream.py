"""Load, fold, decide, append for short aggregates that are read whole: an
agent, a team, the label and canned-response catalogues.

Their streams are short and rarely written, so a command reads its stream
whole (no cache), decides on it, and appends with the version it read as
the expected one; a conflict with a concurrent writer (another admin,
another process) is retried from fresh after a short random pause, so two
writers never both act on the same version.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from uuid import UUID

import msgspec

from commands import errors
from commands.model import Actor
from events.catalogue import AnyEvent
from events.envelope import Metadata, NewEvent, RecordedEvent
from events.store import ConcurrencyError, EventStore, StoreUnavailable

E = TypeVar("E", bound=AnyEvent)


class Written(msgspec.Struct, frozen=True, kw_only=True):
    """What a command did to its stream: ``position`` is the global position
    of its last event (or of the stream's last event when nothing changed)."""

    stream_id: str
    position: int
    version: int
    events: list[str]


async def decide_and_append(
    store: EventStore,
    stream_id: str,
    decide: Callable[[list[RecordedEvent]], Awaitable[Sequence[E]]],
    actor: Actor,
    *,
    new_id: Callable[[], UUID],
    max_attempts: int = 10,
) -> tuple[Written, Sequence[E]]:
    """Run ``decide`` (given the stream's events, the events the command
    causes; it may read more) on ``stream_id`` as it is, and append them;
    the result and the events (none: nothing changed). Raises
    :class:`~commands.errors.Unavailable` when the store is away or the
    stream too busy, and what ``decide`` raises."""
    metadata = Metadata(actor_id=actor.id, actor_role=actor.role)
    try:
        for attempt in range(max_attempts):
            page = await store.read_stream(stream_id)
            decided = await decide(page)
            if not decided:
                position = page[-1].global_position if page else 0
                written = Written(
                    stream_id=stream_id, position=position, version=len(page), events=[]
                )
                return written, decided
            new = [NewEvent(event_id=new_id(), data=e, metadata=metadata) for e in decided]
            try:
                appended = await store.append(stream_id, new, len(page))
            except ConcurrencyError:
                await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
                continue
            written = Written(
                stream_id=stream_id,
                position=appended.last_global_position,
                version=appended.last_stream_position,
                events=[e.type for e in new],
            )
            return written, decided
    except StoreUnavailable as error:
        raise errors.Unavailable(
            "the event store is unavailable; retry", retry_after=int(error.retry_after) or 1
        ) from error
    raise errors.Unavailable(f"{stream_id} is too busy right now; try again")
