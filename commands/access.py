"""The one access policy: who may see, write to and manage a conversation.

Staff (admins, agents) see and write to every conversation; a client only to
its own — the conversation's owner, ``owner_client_id`` — and never its
staff-only events (private notes, labels: ``can_see_event``). Managing
(status, priority, summary, delete, assignment, notes, labels, snooze, merge,
the inbox, the history, time travel) is for staff.
Files uploaded for a conversation (docs/ATTACHMENTS.md): whoever may write
to it may upload (``can_upload``), whoever may see it may fetch (``can_download``).
Every edge (commands, read API, WebSocket, presence) asks here; nothing else
compares an actor's client id with a conversation's. Pure: no I/O.
"""

from __future__ import annotations

from commands import errors
from commands.model import Actor, Role
from events.catalogue import STAFF_ONLY_EVENTS, Event, Side

NOT_YOURS = "this conversation belongs to another client"


def can_see(actor: Actor, owner_client_id: str) -> bool:
    """May ``actor`` read the conversation of client ``owner_client_id``?"""
    return actor.is_staff or actor.client_id == owner_client_id


def can_write(actor: Actor, owner_client_id: str) -> bool:
    """May ``actor`` start, write to or mark read the conversation of client
    ``owner_client_id``? (Today: whoever may see it.)"""
    return can_see(actor, owner_client_id)


def can_upload(actor: Actor, owner_client_id: str) -> bool:
    """May ``actor`` upload a file for the conversation of client
    ``owner_client_id``? Whoever may write to it."""
    return can_write(actor, owner_client_id)


def can_download(actor: Actor, owner_client_id: str) -> bool:
    """May ``actor`` fetch (be given a URL for) a file uploaded for the
    conversation of client ``owner_client_id``? Whoever may see it."""
    return can_see(actor, owner_client_id)


def can_manage(actor: Actor) -> bool:
    """May ``actor`` manage conversations (status, priority, summary, delete,
    inbox, history, time travel)?"""
    return actor.is_staff


def require_admin(actor: Actor, what: str) -> None:
    """:class:`~commands.errors.Forbidden` ("only admins may <what>") unless an admin."""
    if actor.role is not Role.ADMIN:
        raise errors.Forbidden(f"only admins may {what}")


def require_agent_self_or_admin(actor: Actor, agent_id: str, what: str) -> None:
    """Staff change their own ``what``; admins anyone's."""
    if not actor.is_staff or (actor.id != agent_id and actor.role is not Role.ADMIN):
        raise errors.Forbidden(f"only admins may change another agent's {what}")


def can_see_staff(actor: Actor) -> bool:
    """May ``actor`` see the staff directory (agents, teams, assignments)?"""
    return actor.is_staff


def may_send_as(actor: Actor, sender: Side) -> bool:
    """Staff send as admin or system; a client only as itself."""
    return sender in ((Side.ADMIN, Side.SYSTEM) if actor.is_staff else (Side.CLIENT,))


def require_see(actor: Actor, owner_client_id: str) -> None:
    """:class:`~commands.errors.Forbidden` unless ``actor`` may see it."""
    if not can_see(actor, owner_client_id):
        raise errors.Forbidden(NOT_YOURS)


def require_write(
    actor: Actor, owner_client_id: str, message: str = NOT_YOURS, field: str | None = None
) -> None:
    """:class:`~commands.errors.Forbidden` unless ``actor`` may write to it."""
    if not can_write(actor, owner_client_id):
        raise errors.Forbidden(message, field=field)


def require_manage(actor: Actor, what: str) -> None:
    """:class:`~commands.errors.Forbidden` ("only staff may <what>") unless
    ``actor`` may manage conversations."""
    if not can_manage(actor):
        raise errors.Forbidden(f"only staff may {what}")


def require_send_as(actor: Actor, sender: Side) -> None:
    if not may_send_as(actor, sender):
        raise errors.Forbidden(f"a {actor.role} may not send as {sender}", field="sender")


def only_client(actor: Actor) -> str | None:
    """For a query over many conversations at once (search): ``None`` when
    ``actor`` may see every conversation (staff), else the one client whose
    conversations alone it may see (``can_see``'s rule)."""
    return None if actor.is_staff else (actor.client_id or "")


def can_see_notes(actor: Actor) -> bool:
    """May ``actor`` see private notes (search, timelines)? Staff only."""
    return actor.is_staff


def can_see_event(actor: Actor, event: Event) -> bool:
    """May ``actor`` see this event of a conversation it may see? Private
    notes and labels (``STAFF_ONLY_EVENTS``) are for staff only."""
    return actor.is_staff or not isinstance(event, STAFF_ONLY_EVENTS)


def require_catalogue_user(actor: Actor) -> None:
    """Labels and canned responses are staff-only: reading, using, managing."""
    if not actor.is_staff:
        raise errors.Forbidden("labels and canned responses are for staff")


def can_manage_canned(actor: Actor, owner_id: str | None) -> bool:
    """A shared canned response (``owner_id`` ``None``) is managed by admins;
    an agent's own by that agent, and by admins."""
    return actor.role is Role.ADMIN or (actor.is_staff and owner_id == actor.id)
