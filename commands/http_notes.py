"""HTTP endpoints of private notes and of reading mention notifications.

``POST /api/conversations/{id}/notes``: the edge resolves the note's
mentions (:func:`commands.mentions_lookup.resolve_mentions`: its ``@name``s
and the explicit ``mentions``) and runs :class:`~commands.model.AddNote`
through the :class:`~commands.handler.CommandHandler`; it answers the
command's result with the new note's id. ``POST /api/notifications/read``
marks the caller's own notifications read (an event in their agent stream,
:mod:`commands.notifications_handler`). Staff only: a client is refused
``forbidden`` (403) before anything is looked up.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from commands import access, errors
from commands.handler import CommandResult
from commands.http import SeenVersion
from commands.http_staff import StaffContext
from commands.mentions_lookup import resolve_mentions
from commands.model import Actor, AddNote, CommandId, stream_id_for
from commands.notifications import MarkNotificationsRead, NoteIds, Position
from commands.notifications_handler import NotificationsHandler
from commands.staff_handler import StaffResult
from events.catalogue import Content, NoteAdded, StaffId
from events.store import EventStore

MAX_MENTIONS = 50
"""The most agents a note names explicitly."""


class NewNote(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    content: Content
    mentions: Annotated[tuple[StaffId, ...], msgspec.Meta(max_length=MAX_MENTIONS)] = ()
    """Agent ids to notify besides those the content's ``@name``s name."""
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


class NotificationsReadBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of the two (else 422 ``invalid_command``)."""

    up_to_position: Position | None = None
    """Every notification of a note at or before this global position."""
    note_ids: NoteIds = ()


class NoteResult(CommandResult, frozen=True, kw_only=True):
    """The AddNote command's result, with the note's id and whom it notified."""

    note_id: UUID
    mentions: list[str]


def own_agent_id(actor: Actor, what: str) -> str:
    """The caller's id as an agent's: staff only (403), an id an agent may have (422)."""
    access.require_manage(actor, what)
    try:
        return msgspec.convert(actor.id, StaffId)
    except msgspec.ValidationError:
        raise errors.InvalidCommand("your id cannot name an agent (blanks or slashes)") from None


async def _note_of(store: EventStore, result: CommandResult) -> NoteAdded:
    """The note the command wrote (also when it answered a retry): AddNote
    writes one event, at the result's version."""
    (recorded,) = await store.read_stream(
        stream_id_for(result.conversation_id), after=result.version - 1, limit=1
    )
    assert isinstance(recorded.data, NoteAdded), "AddNote writes a NoteAdded"
    return recorded.data


@post(
    "/conversations/{conversation_id:uuid}/notes",
    status_code=201,
    summary="Add a private note (staff only; never shown to the client)",
)
async def add_note(
    conversation_id: FromPath[UUID],
    data: JSONBody[NewNote],
    staff: NamedDependency[StaffContext],
    pool: NamedDependency[asyncpg.Pool],
    store: NamedDependency[EventStore],
) -> NoteResult:
    access.require_manage(staff.actor, "add notes")  # before saying who exists
    mentions = await resolve_mentions(pool, data.content, data.mentions)
    command = AddNote(
        conversation_id=conversation_id,
        content=data.content,
        mentions=mentions,
        command_id=data.command_id,
        seen_version=data.seen_version,
    )
    result = await staff.commands.handle(command)
    note = await _note_of(store, result)
    fields: dict[str, Any] = msgspec.structs.asdict(result)
    return NoteResult(**fields, note_id=note.note_id, mentions=list(note.mentions))


@post("/notifications/read", status_code=200, summary="Mark your mention notifications read")
async def read_notifications(
    data: JSONBody[NotificationsReadBody],
    actor: NamedDependency[Actor],
    store: NamedDependency[EventStore],
) -> StaffResult:
    agent_id = own_agent_id(actor, "read notifications")
    command = MarkNotificationsRead(agent_id=agent_id, **msgspec.structs.asdict(data))
    return await NotificationsHandler(store).handle(command, actor)


NOTE_HANDLERS = [add_note, read_notifications]
"""Mounted under /api by the app (which provides ``staff``, ``actor``,
``pool`` and ``store``)."""
