"""The stale-action guard: refuse a command sent on an out-of-date view.

A staff member who answers a client saw the conversation at some version (the
``version`` of its inbox row, the ``stream_position`` of its last frame). A
command carrying that ``seen_version`` is refused ``conversation_moved`` when
the conversation has moved since: a message from the client or from someone
else, or a change of status or assignee by someone else. Reading, priority
and summary changes, and the sender's own actions do not count. Pure: the
handler reads the events after ``seen_version`` and asks here.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands import errors
from commands.model import Actor
from events.catalogue import (
    ConversationAssigned,
    ConversationStatusChanged,
    ConversationUnassigned,
    MessageSent,
)
from events.envelope import RecordedEvent

MOVES = (MessageSent, ConversationStatusChanged, ConversationAssigned, ConversationUnassigned)
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
            missed=moves[-MAX_MISSED:],
        )
