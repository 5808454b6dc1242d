"""The catalogues' queries (staff only): ``GET /api/labels`` and the
composer's lookup, ``GET /api/canned-responses``.

Both read the ``catalogues`` projection and take ``min_position``/``wait``
like every query (they wait for that projection)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from commands.http_catalogues import staff_only
from commands.model import Actor
from read_api import errors as read_errors
from read_api.queries import DEFAULT_WAIT_SECONDS, MAX_LIMIT, MAX_POSITION, wait_for_position
from read_api.row_labels import LabelView

CATALOGUES = ("catalogues",)
DEFAULT_CANNED_LIMIT = 20


class LabelList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[LabelView]
    """Every label of the catalogue, by name (ignoring case)."""


class CannedView(msgspec.Struct, frozen=True, kw_only=True):
    response_id: UUID
    code: str
    content: str
    shared: bool
    owner_id: str | None
    """The agent whose own response it is; ``None`` when shared."""
    updated_at: datetime


class CannedList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[CannedView]
    """Shared responses and the caller's own, by code (ignoring case)."""
    next_after: str | None
    """Pass as ``after`` for the next page; ``None`` on the last."""


_LABELS = "SELECT label_id, name, colour FROM labels ORDER BY lower(name), label_id"
# The caller's codes are unique ignoring case (commands.canned), so a page
# ends at a code and the next starts after it. Codes compare lower-cased,
# byte by byte (COLLATE "C": "-" < digits < "_" < letters), as the index has them.
_CANNED = """
SELECT response_id, code, content, owner_id IS NULL AS shared, owner_id, updated_at
FROM canned_responses
WHERE (owner_id IS NULL OR owner_id = $1)
  AND lower(code) COLLATE "C" LIKE $2
  AND lower(code) COLLATE "C" > lower($3)
ORDER BY lower(code) COLLATE "C", response_id
LIMIT $4
"""

MinPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_POSITION)]
Wait = Annotated[float, QueryParameter(ge=0, le=10)]
Prefix = Annotated[str, QueryParameter(max_length=50, pattern=r"^[A-Za-z0-9_-]*\Z")]
"""Any start of a canned code (empty: every code)."""
Code = Annotated[
    str | None, QueryParameter(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+\Z")
]


async def _ready(pool: asyncpg.Pool, position: int | None, wait: float) -> None:
    if position is None:
        return
    reached = await wait_for_position(pool, CATALOGUES, position, wait)
    if reached is not None:
        raise read_errors.NotCaughtUp(
            f"the read models reached position {reached}, not {position}, in {wait:g} s",
            details={"reached_position": reached},
        )


@get("/labels", guards=[staff_only], summary="The label catalogue (staff)")
async def labels(
    pool: NamedDependency[asyncpg.Pool],
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> LabelList:
    await _ready(pool, min_position, wait)
    return LabelList(items=[LabelView(**dict(r)) for r in await pool.fetch(_LABELS)])


@get(
    "/canned-responses",
    guards=[staff_only],
    summary="Shared canned responses and the caller's own, by code; prefix: the composer's lookup",
)
async def canned_responses(
    actor: NamedDependency[Actor],
    pool: NamedDependency[asyncpg.Pool],
    prefix: Prefix = "",
    after: Code = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_CANNED_LIMIT,
    min_position: MinPosition = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> CannedList:
    await _ready(pool, min_position, wait)
    starts = prefix.lower().replace("_", "\\_") + "%"  # "_" is LIKE's one-character wildcard
    # No ``after``: every code (never empty) comes after "".
    rows = await pool.fetch(_CANNED, actor.id, starts, "" if after is None else after, limit + 1)
    items = [CannedView(**dict(r)) for r in rows[:limit]]
    return CannedList(items=items, next_after=items[-1].code if len(rows) > limit else None)


CATALOGUE_QUERIES = [labels, canned_responses]
"""Mounted with the other queries by the app."""
