"""HTTP for snooze (issue 17): ``POST /api/conversations/{id}/snooze``.

The body is decoded into a :class:`~commands.model.SnoozeConversation` and
run through the :class:`~commands.handler.CommandHandler` like any command;
the decider (:func:`commands.workflow.snooze`) says who may snooze, and
refuses an ``until`` without a time zone, in the past or more than 366 days
ahead (422 ``invalid_command``, field ``until``). Waking is the waker's
(:mod:`commands.waker`) or the client's next message.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from litestar import post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from commands.handler import CommandResult
from commands.http import CommandContext, SeenVersion
from commands.model import CommandId, SnoozeConversation


class Snooze(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Unknown fields are refused (400), so a typo never passes silently."""

    until: datetime
    """RFC 3339 with an offset (``2026-12-03T18:00:00Z``, ``…+01:00``)."""
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


@post(
    "/conversations/{conversation_id:uuid}/snooze",
    status_code=200,
    summary="Snooze a conversation until a moment (or the client's next message)",
)
async def snooze_conversation(
    conversation_id: FromPath[UUID],
    data: JSONBody[Snooze],
    ctx: NamedDependency[CommandContext],
) -> CommandResult:
    command = SnoozeConversation(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await ctx.handle(command)


SNOOZE_HANDLERS = [snooze_conversation]
"""Mounted under /api by the app, which provides ``ctx``."""
