"""``GET /api/search``: ranked hits over messages, private notes (staff),
client names and ids and conversation summaries (docs/QUERIES.md, "Search").

Like every query it takes ``min_position`` (read your writes, see
:mod:`read_api.http`): it waits for the inbox and the search projections.
Who sees what is decided once, by ``read_api.views.search_scope``; the
staff-only filters (``assignee``, ``team``, ``label``) are refused to a client."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from commands import access, errors
from commands.http import NO_NUL
from commands.model import Actor
from events.catalogue import LabelId, Status
from read_api import errors as read_errors
from read_api.inbox_queries import ME, InboxFilter
from read_api.queries import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_SECONDS,
    MAX_LIMIT,
    MAX_POSITION,
    wait_for_position,
)
from read_api.search_queries import SearchPage, SearchRequest, search
from read_api.search_text import (
    MAX_QUERY_LENGTH,
    BadSearch,
    check_query,
    decode_cursor,
    digest,
)
from read_api.views import search_scope

READS = ("inbox", "search")
MAX_LABEL_FILTERS = 10

Query = Annotated[str | None, QueryParameter(max_length=MAX_QUERY_LENGTH, pattern=NO_NUL)]
StaffRef = Annotated[str | None, QueryParameter(min_length=1, max_length=200, pattern=NO_NUL)]
After = Annotated[str | None, QueryParameter(max_length=500, pattern=NO_NUL)]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
MinPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_POSITION)]
Wait = Annotated[float, QueryParameter(ge=0, le=10)]
Labels = Annotated[list[str] | None, QueryParameter(max_items=MAX_LABEL_FILTERS)]


@get("/search", summary="Search messages, notes (staff), client names and ids, summaries")
async def search_endpoint(
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    q: Query = None,
    status: Annotated[Status | None, QueryParameter()] = None,
    assignee: StaffRef = None,
    team: StaffRef = None,
    label: Labels = None,
    after: After = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> SearchPage:
    """``q``: words (stemmed, English), ``"a phrase"``, ``or``, ``-word``;
    client names and ids also match with typos. ``assignee`` (an agent's id,
    ``me`` or ``unassigned``), ``team``, ``label`` (repeatable: every one)
    and ``status`` filter the conversations, as in the inbox. ``after``: a
    ``next_after``."""
    staff_filters = {"assignee": assignee, "team": team, "label": label}
    for name, value in staff_filters.items():
        if value is not None and not access.can_see_staff(actor):
            raise errors.Forbidden(f"the {name} filter is for staff", field=name)
    scope = search_scope(actor)
    filters = InboxFilter(
        status=status,
        assignee_id=actor.id if assignee == ME else assignee,
        team_id=team,
        label_ids=_label_ids(label),
    )
    try:
        text = check_query(q or "")  # missing: refused as empty
        name = digest(text, msgspec.to_builtins(filters), msgspec.to_builtins(scope))
        cursor = decode_cursor(after, name) if after is not None else None
    except BadSearch as error:
        raise read_errors.InvalidQuery(str(error), field=error.field) from error
    if min_position is not None:
        reached = await wait_for_position(pool, READS, min_position, wait)
        if reached is not None:
            raise read_errors.NotCaughtUp(
                f"the read models reached position {reached}, not {min_position}, in {wait:g} s",
                details={"reached_position": reached},
            )
    request = SearchRequest(q=text, scope=scope, filters=filters, digest=name)
    return await search(pool, request, after=cursor, limit=limit)


def _label_ids(label: list[str] | None) -> tuple[str, ...]:
    """``label=`` (repeatable), each a label id."""
    try:
        return tuple(msgspec.convert(label or [], list[LabelId]))
    except msgspec.ValidationError as error:
        raise read_errors.InvalidQuery(f"label: {error}", field="label") from error


SEARCH_HANDLERS = [search_endpoint]
"""Mounted under /api by the app, which provides ``actor`` and ``pool``."""
