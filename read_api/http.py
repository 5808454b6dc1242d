"""Query endpoints over the read models.

Every query takes ``min_position``: the answer waits (up to ``wait`` seconds,
2 by default) until every projection it reads has reached that global
position — pass the ``position`` a command returned and you read your write.
On timeout: 503 ``not_caught_up`` with the position reached.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from commands import access, errors
from commands.http import MAX_SEQ, NO_NUL
from commands.model import Actor, stream_id_for
from events.catalogue import Channel, LabelId, Priority, Status
from events.envelope import RecordedEvent
from events.store import EventStore
from read_api import errors as read_errors
from read_api import inbox_totals
from read_api.inbox_queries import ME, BadCursor, InboxFilter, Sort, list_conversations
from read_api.queries import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_SECONDS,
    MAX_LIMIT,
    MAX_POSITION,
    ConversationPage,
    ConversationView,
    MessagePage,
    get_conversation,
    list_messages,
    wait_for_position,
)
from read_api.staff import STAFF_HANDLERS
from read_api.time_travel import ConversationAsOf, replay
from read_api.views import for_viewer, viewer_id

INBOX = ("inbox",)
TIMELINE = ("timeline",)
SEARCH = ("search",)

# Every parameter is bounded: integers by their column's range (seqs and stream
# positions are PostgreSQL integers, global positions bigints), text by a
# length and by NO_NUL (PostgreSQL refuses NUL characters).
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
MinPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_POSITION)]
Wait = Annotated[float, QueryParameter(ge=0, le=10)]
ClientId = Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)]
Search = Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)]
Cursor = Annotated[str | None, QueryParameter(max_length=500, pattern=NO_NUL)]
StaffRef = Annotated[str | None, QueryParameter(min_length=1, max_length=200, pattern=NO_NUL)]
AsOf = Annotated[str | None, QueryParameter(min_length=1, max_length=64, pattern=NO_NUL)]
MAX_LABEL_FILTERS = 10
_POSITION = re.compile(r"[0-9]{1,19}")


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


def _readable(conversation: ConversationView | None, actor: Actor) -> ConversationView:
    if conversation is None:
        raise errors.ConversationNotFound("no such conversation")
    access.require_see(actor, conversation.client_id)
    return for_viewer(conversation, actor)


@get("/conversations", summary="The inbox: conversations, newest last message first")
async def inbox(
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    status: Annotated[Status | None, QueryParameter()] = None,
    priority: Annotated[Priority | None, QueryParameter()] = None,
    channel: Annotated[Channel | None, QueryParameter()] = None,
    client_id: ClientId = None,
    q: Search = None,
    include_deleted: Annotated[bool, QueryParameter()] = False,
    assignee: StaffRef = None,
    team: StaffRef = None,
    label: Annotated[list[str] | None, QueryParameter(max_items=MAX_LABEL_FILTERS)] = None,
    sort: Annotated[Sort, QueryParameter()] = Sort.LAST_MESSAGE,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    include_total: Annotated[bool, QueryParameter()] = False,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> ConversationPage:
    if not access.can_manage(actor):
        raise errors.Forbidden("the inbox is for staff")
    # q is matched on the search projection's names (read_api.inbox_queries).
    read = INBOX if q is None else (*INBOX, *SEARCH)
    await _await_position(pool, read, min_position, wait)
    filters = InboxFilter(
        status=status,
        priority=priority,
        channel=channel,
        client_id=client_id,
        q=q,
        include_deleted=include_deleted,
        assignee_id=actor.id if assignee == ME else assignee,
        team_id=team,
        label_ids=_label_ids(label),
    )
    try:
        page = await list_conversations(
            pool,
            filters,
            viewer=viewer_id(actor),
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
    except BadCursor as error:
        raise read_errors.InvalidQuery(str(error), field="cursor") from error
    if include_total:
        total = await inbox_totals.count(pool, filters)
        page = msgspec.structs.replace(page, total=total.rows, total_exact=total.exact)
    return msgspec.structs.replace(page, items=[for_viewer(v, actor) for v in page.items])


def _label_ids(label: list[str] | None) -> tuple[str, ...]:
    """``label=`` (repeatable: every one must be on the row), each a label id."""
    try:
        return tuple(msgspec.convert(label or [], list[LabelId]))
    except msgspec.ValidationError as error:
        raise read_errors.InvalidQuery(f"label: {error}", field="label") from error


@get(
    "/conversations/{conversation_id:uuid}",
    summary="One conversation (with as_of: as it was then, folded from its events)",
)
async def conversation(
    conversation_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    store: NamedDependency[EventStore],
    as_of: AsOf = None,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> ConversationView | ConversationAsOf:
    if as_of is not None:
        access.require_manage(actor, "time travel")
        past = await replay(store, conversation_id, as_of=_moment(as_of))
        if past.version == 0:
            raise errors.ConversationNotFound("no such conversation at that moment")
        return past
    await _await_position(pool, INBOX, min_position, wait)
    view = await get_conversation(pool, conversation_id, viewer=viewer_id(actor))
    return _readable(view, actor)


class HistoryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[RecordedEvent]
    """The conversation's events in order, each with its envelope."""
    next_after: int | None
    """Pass as ``after`` for the next page; ``None`` on the last."""


@get("/conversations/{conversation_id:uuid}/history", summary="A conversation's events (staff)")
async def history(
    conversation_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    store: NamedDependency[EventStore],
    after: Annotated[int, QueryParameter(ge=0, le=MAX_SEQ)] = 0,
    limit: Limit = DEFAULT_LIMIT,
) -> HistoryPage:
    access.require_manage(actor, "read the history")
    page = await store.read_stream(stream_id_for(conversation_id), after=after, limit=limit + 1)
    if not page and after == 0:
        raise errors.ConversationNotFound("no such conversation")
    items = page[:limit]
    return HistoryPage(
        items=items, next_after=items[-1].stream_position if len(page) > limit else None
    )


def _moment(as_of: str) -> int | datetime:
    """A global position (ASCII digits, at most MAX_POSITION) or an ISO 8601
    time with a zone."""
    if _POSITION.fullmatch(as_of) and int(as_of) <= MAX_POSITION:
        return int(as_of)
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise read_errors.InvalidQuery(
            "as_of is a global position or an ISO 8601 time with a zone", field="as_of"
        )
    return moment


@get("/messages", summary="A conversation's messages, newest page first")
async def messages(
    conversation_id: Annotated[UUID, QueryParameter()],
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    before: Annotated[int | None, QueryParameter(ge=1, le=MAX_SEQ)] = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> MessagePage:
    await _await_position(pool, INBOX + TIMELINE, min_position, wait)
    _readable(await get_conversation(pool, conversation_id, viewer=None), actor)
    return await list_messages(pool, conversation_id, before=before, limit=limit)


QUERY_HANDLERS = [inbox, conversation, history, messages, *STAFF_HANDLERS]
"""The query endpoints, mounted under /api by the app, which provides
``actor``, ``pool`` and ``store``."""
