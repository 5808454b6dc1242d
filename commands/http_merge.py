"""HTTP endpoint of merging: ``POST /api/conversations/{id}/merge``.

The request becomes a call of the :class:`~commands.merge_service.MergeService`
(kept by the app in its state as ``merge_service``); errors become JSON in
``parley.http_errors``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from commands.http import CommandContext
from commands.merge_service import MergeResult, MergeService
from commands.model import CommandId


class MergeRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Merge the conversation in the path (the source) into ``into``."""

    into: UUID
    command_id: CommandId | None = None
    """A retry with the same id answers as the first time (and finishes the
    merge if it was cut short)."""


@post(
    "/conversations/{conversation_id:uuid}/merge",
    status_code=200,
    summary="Merge the conversation into another of the same client (staff)",
)
async def merge_conversation(
    conversation_id: FromPath[UUID],
    data: JSONBody[MergeRequest],
    ctx: NamedDependency[CommandContext],
    request: Request[Any, Any, Any],
) -> MergeResult:
    service: MergeService = request.app.state.merge_service
    return await service.merge(
        conversation_id,
        data.into,
        ctx.actor,
        command_id=data.command_id,
        correlation_id=ctx.correlation_id,
    )


MERGE_HANDLERS = [merge_conversation]
"""Mounted under /api by the app, which provides ``ctx`` and keeps the
``merge_service`` in its state."""
