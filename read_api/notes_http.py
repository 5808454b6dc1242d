"""Query endpoints of the staff timeline and of mention notifications
(staff only: a client is refused ``forbidden``, 403, before anything is
looked up). Like every query they take ``min_position`` (read your writes,
see :mod:`read_api.http`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from commands import access, errors
from commands.model import Actor
from events.catalogue import StaffId
from read_api import errors as read_errors
from read_api.notes_queries import (
    TIMELINE_PROJECTIONS,
    NotificationPage,
    TimelinePage,
    notifications,
    timeline,
)
from read_api.queries import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_SECONDS,
    MAX_LIMIT,
    MAX_POSITION,
    get_conversation,
    wait_for_position,
)

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Position = Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)]
MinPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_POSITION)]
Wait = Annotated[float, QueryParameter(ge=0, le=10)]


async def _await_position(
    pool: asyncpg.Pool, projections: tuple[str, ...], position: int | None, wait: float
) -> None:
    if position is None:
        return
    reached = await wait_for_position(pool, projections, position, wait)
    if reached is not None:
        raise read_errors.NotCaughtUp(
            f"the read models reached position {reached}, not {position}, in {wait:g} s",
            details={"reached_position": reached},
        )


@get(
    "/conversations/{conversation_id:uuid}/timeline",
    summary="The staff timeline: messages, private notes and system entries in log order",
)
async def staff_timeline(
    conversation_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    after: Position = 0,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> TimelinePage:
    access.require_manage(actor, "read the staff timeline")
    await _await_position(pool, ("inbox", *TIMELINE_PROJECTIONS), min_position, wait)
    if await get_conversation(pool, conversation_id, viewer=None) is None:
        raise errors.ConversationNotFound("no such conversation")
    return await timeline(pool, conversation_id, after=after, limit=limit)


@get("/notifications", summary="Your mention notifications, newest first (staff)")
async def list_notifications(
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    unread: Annotated[bool, QueryParameter()] = False,
    before: Annotated[int | None, QueryParameter(ge=1, le=MAX_POSITION)] = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> NotificationPage:
    """``unread=true``: only the unread ones. ``before``: a ``next_before``."""
    access.require_manage(actor, "read notifications")
    await _await_position(pool, ("notifications",), min_position, wait)
    try:
        agent_id = msgspec.convert(actor.id, StaffId)
    except msgspec.ValidationError:  # no agent has such an id: nobody mentioned them
        return NotificationPage(items=[], next_before=None, unread_count=0)
    return await notifications(pool, agent_id, unread_only=unread, before=before, limit=limit)


NOTE_QUERY_HANDLERS = [staff_timeline, list_notifications]
"""Mounted under /api by the app, which provides ``actor`` and ``pool``."""
