"""What a viewer may see of a conversation's row: the one place a view is
fitted to who reads it, used wherever a view leaves the read API or the
WebSocket edge.

Staff see the whole row. A client sees its conversation without the
assignment's internals: ``assignee_id``, ``team_id``, ``team_name``,
``waiting_since``, ``snoozed_until`` and ``unread_for_staff`` are ``None``; ``assignee_name``
stays ("an agent named X is handling this"), and ``my_unread`` is its own
unread (``unread_for_client``)."""

from __future__ import annotations

import msgspec

from commands import access
from commands.model import Actor
from read_api.queries import ConversationView
from read_api.search_queries import Scope


def for_viewer(view: ConversationView, actor: Actor) -> ConversationView:
    """``view`` as ``actor`` may see it."""
    if access.can_see_staff(actor):
        return view
    return msgspec.structs.replace(
        view,
        assignee_id=None,
        team_id=None,
        team_name=None,
        waiting_since=None,
        snoozed_until=None,
        unread_for_staff=None,
        my_unread=view.unread_for_client,
        labels=[],  # labels are staff-only
    )


def viewer_id(actor: Actor) -> str | None:
    """Whose read cursors a view's ``my_unread`` counts from: a staff
    member's own; ``None`` for a client (``for_viewer`` fills theirs in)."""
    return actor.id if actor.is_staff else None


def search_scope(actor: Actor) -> Scope:
    """What ``actor`` may search: staff, every conversation and its notes; a
    client, its own conversations (messages, names, summaries), never notes."""
    return Scope(client_id=access.only_client(actor), notes=access.can_see_notes(actor))
