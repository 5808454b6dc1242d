"""Who gets which frame: the edge's one filter per viewer.

A socket gets an event's frame only if its viewer may see the event
(``commands.access.can_see_event``: private notes and labels are for staff
only), and a NOTIFICATIONS_READ only if it is the viewer's own; a client's
socket gets the redacted form (``ws_edge.translate.for_client``). The inbox
sockets of an agent a note mentions also get a NOTIFICATION, right after the
NOTE_ADDED.

Sessions ask here for every event they send — replayed, live, on the fast
path — and an event a socket does not get still moves the socket's position
on: a client's stream positions skip the staff-only events, and its READY,
resume and ``seen_version`` stay consistent (docs/PROTOCOL.md, "What clients
never see"). Pure.
"""

from __future__ import annotations

from commands import access
from commands.model import Actor
from events.catalogue import AnyEvent, NoteAdded, NotificationsRead
from events.envelope import RecordedEvent
from ws_edge import frames
from ws_edge.translate import Names, for_client

EXCERPT_LENGTH = 140
"""Characters of a note a NOTIFICATION quotes (whitespace collapsed)."""


def visible(actor: Actor, event: AnyEvent) -> bool:
    """Does a socket of ``actor`` (who may see the event's conversation, or
    the inbox) get a frame for ``event``?"""
    if not access.can_see_event(actor, event):
        return False
    if isinstance(event, NotificationsRead):
        return event.agent_id == actor.id
    return True


def for_viewer(
    actor: Actor, event: RecordedEvent, frame: frames.ServerFrame
) -> frames.ServerFrame | None:
    """``frame`` (``event``'s) as a socket of ``actor`` gets it; None: not at all."""
    if not visible(actor, event.data):
        return None
    return frame if access.can_see_staff(actor) else for_client(frame)


def excerpt(content: str, length: int = EXCERPT_LENGTH) -> str:
    """The start of ``content``, whitespace collapsed, cut with an ellipsis."""
    text = " ".join(content.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def notification(actor: Actor, event: RecordedEvent, names: Names) -> frames.Notification | None:
    """The NOTIFICATION for ``actor``'s inbox if ``event`` is a note that
    mentions them (None otherwise)."""
    note = event.data
    if not isinstance(note, NoteAdded) or actor.id not in note.mentions:
        return None
    if not visible(actor, note):
        return None
    return frames.Notification(
        note_id=note.note_id,
        conversation_id=note.conversation_id,
        author_id=note.author_id,
        author_name=names.agent_name(note.author_id),
        excerpt=excerpt(note.content),
        position=event.global_position,
        at=event.recorded_at,
    )
