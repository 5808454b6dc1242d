"""The stale-action guard: refuse a command sent on an out-of-date view.

A staff member who answers a client saw the conversation at some version (the
``version`` of its inbox row, the ``stream_position`` of its last frame). A
command carrying that ``seen_version`` is refused ``conversation_moved`` when
the conversation has moved since: a message from the client or from someone
else, or a change of status (a snooze and a wake-up included) or assignee by
someone else. Reading, priority
and summary changes, and the sender's own actions do not count. Pure: the
handler reads the events after ``seen_version`` and asks here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from commands import access, errors
from commands.model import Actor
from events.catalogue import (
    ConversationAssigned,
    ConversationSnoozed,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationWoke,
    MessageSent,
)
from events.envelope import RecordedEvent

MOVES = (
    MessageSent,
    ConversationStatusChanged,
    ConversationAssigned,
    ConversationUnassigned,
    ConversationSnoozed,
    ConversationWoke,
)
"""The events that move a conversation past what an agent saw."""

MAX_MISSED = 50
"""At most this many missed events come back with the refusal (the newest)."""


def missed(events_after_seen: Sequence[RecordedEvent], actor: Actor) -> list[RecordedEvent]:
    """The events after ``seen_version`` that ``actor`` did not cause and that
    move the conversation."""
    return [
        event
        for event in events_after_seen
        if isinstance(event.data, MOVES) and event.metadata.actor_id != actor.id
    ]


def check(
    seen_version: int, version: int, events_after_seen: Sequence[RecordedEvent], actor: Actor
) -> None:
    """Raise :class:`~commands.errors.ConversationMoved` if the conversation
    (now at ``version``) moved past ``seen_version`` for ``actor``."""
    if seen_version > version:
        raise errors.InvalidCommand(
            f"seen_version {seen_version} is ahead of the conversation (version {version})",
            field="seen_version",
        )
    moves = missed(events_after_seen, actor)
    if moves:
        raise errors.ConversationMoved(
            f"the conversation moved on since version {seen_version}: "
            f"{len(moves)} event(s) you have not seen",
            version=version,
            missed=[for_viewer(event, actor) for event in moves[-MAX_MISSED:]],
        )


def for_viewer(event: RecordedEvent, actor: Actor) -> dict[str, Any]:
    """A missed event (as JSON builtins) as ``actor`` may see it: a client sees
    neither who did what (``metadata`` null) nor an assignment's internals
    (``agent_id``, ``team_id``, ``by``, ``reason`` null: only that it changed)
    nor a snooze's (``until``, ``by`` null)."""
    seen: dict[str, Any] = msgspec.to_builtins(event)
    if access.can_see_staff(actor):
        return seen
    if isinstance(event.data, ConversationAssigned | ConversationUnassigned):
        seen["data"] = {**seen["data"], **dict.fromkeys(("agent_id", "team_id", "by", "reason"))}
    if isinstance(event.data, ConversationSnoozed):
        seen["data"] = {**seen["data"], **dict.fromkeys(("until", "by"))}
    return {**seen, "metadata": None}
