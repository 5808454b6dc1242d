"""The search query: ranked hits over ``search_documents``, filtered like
the inbox, paged by keyset.

**What matches.** A document matches when its text matches ``q`` as
``websearch_to_tsquery('english', q)`` (words, ``"a phrase"``, ``or``,
``-word``; stemmed), or — a conversation document — when each word of ``q``
is like a word of its client's name, or ``q`` like its id (pg_trgm's word
similarity ``<%``, at least ``WORD_SIMILARITY``: typos).

**Ranking, in windows.** Ranking every match of a common word would cost
in proportion to the matches; instead the matches are taken newest first in
*windows* of ``window`` (``RANK_WINDOW``) documents, and each window is
ranked: ``ts_rank`` (names and ids weigh most, then summaries, then
messages and notes; normalised by length) plus, for a conversation
document, the word similarity of ``q`` to its client's name or id; ties
newest first. Pages walk the first window, then the next one, and so on:
every match is reached, and a search with fewer matches than a window (any
rare word) is one plain ranking of all of them. Each page costs one window
at most (twice at a window's end), whatever the number of matches.

**Paging.** The cursor holds the window's top position and the last hit's
(rank, position): documents never move (a document's position is the event
that made it), so a walk neither skips nor repeats a hit, even while new
documents arrive (they are above the first window's top; a new search sees
them). A document that changes meanwhile (a summary edited, a copy merged
in, a conversation deleted) may be seen differently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from read_api.inbox_queries import InboxFilter, where_conditions
from read_api.search_text import (
    FRAGMENT_OPTIONS,
    LT,
    MARKERS,
    RANK_WINDOW,
    WHOLE,
    WHOLE_OPTIONS,
    Cursor,
    encode_cursor,
    mark,
    name_words,
)

WORD_SIMILARITY = 0.4
"""pg_trgm's word similarity, at least, for each word of ``q`` to match a
word of a client's name (and ``q`` its id): "jonh" finds "John" (0.4),
"smiht" "Smith" (0.5), "carrol" "Carol" (0.63); "jhon" does not (0.2)."""
MAX_POSITION = 2**63 - 1
SEARCH_SETTINGS = f"""
SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY};
SET LOCAL plan_cache_mode = force_custom_plan
"""
"""For the search's transaction. Planned for each ``q`` (never a generic
plan, whatever the session's ``plan_cache_mode``): whether ``q``'s words
are rare or common decides the plan — rare, the text index finds every
match; common, the newest documents are read in order until a window is
full — and only the words themselves tell which (the column's statistics)."""


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    """``conversation`` (its client's name and id, its summary), ``message`` or ``note``."""
    id: UUID
    """The conversation's, message's or note's id."""
    conversation_id: UUID
    rank: float
    """Higher is better; compare only within one search."""
    snippet: str
    """HTML: the text escaped, matches in ``<mark>…</mark>`` (its only tags)."""
    position: int
    """The global position of the event that made the document."""
    created_at: datetime
    seq: int | None = None
    """A message's seq in its conversation."""
    sender: str | None = None
    """A message's side: ``admin``, ``client`` or ``system``."""
    author_id: str | None = None
    """A message's sender id; a note's author."""
    client_id: str
    client_name: str
    status: str
    """The conversation's status now."""
    merged_into: UUID | None = None
    """The conversation was merged into this one (its messages are found there)."""


class SearchPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[SearchHit]
    next_after: str | None
    """Pass as ``after`` for the next page; ``None`` on the last."""


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    """What a viewer may search (read_api.views.search_scope decides)."""

    client_id: str | None
    """Only this client's conversations; ``None``: every conversation."""
    notes: bool
    """Private notes too."""


class SearchRequest(msgspec.Struct, frozen=True, kw_only=True):
    q: str
    """Checked by read_api.search_text.check_query."""
    scope: Scope
    filters: InboxFilter
    """The inbox's filters (status, assignee, team, labels) on the conversations."""
    digest: str
    """Names this search in its cursors."""


_TEXT = f"""replace(translate(CASE kind
    WHEN 'conversation' THEN concat_ws(' · ', doc_name, doc_client, nullif(body, ''))
    ELSE body END, '{MARKERS}', ''), '<', '{LT}')"""
"""The text a hit's snippet is cut from (read_api.search_text: why so)."""
_HEADLINE = f"""ts_headline('english'::regconfig, text,
    websearch_to_tsquery('english'::regconfig, $1),
    CASE WHEN length(text) <= {WHOLE} THEN $2 ELSE $3 END)"""


_STATEMENT = """
WITH hits AS MATERIALIZED (
    SELECT d.kind, d.doc_id, d.conversation_id, d.position, d.created_at, d.seq, d.sender,
           d.author_id, d.body, d.tsv, d.client_name AS doc_name, d.client_id AS doc_client,
           c.client_id, c.client_name, c.status, c.merged_into
    FROM search_documents d
    JOIN (SELECT conversation_id, client_id, client_name, status, merged_into
          FROM conversations WHERE {conversations}) c ON c.conversation_id = d.conversation_id
    WHERE (d.tsv @@ websearch_to_tsquery('english'::regconfig, $1)
           OR ({names})
           OR (d.kind = 'conversation' AND $1 <% d.client_id))
      AND d.position <= {top}{own}
    ORDER BY d.position DESC
    LIMIT {window}
), ranked AS (
    SELECT h.*, (ts_rank(h.tsv, websearch_to_tsquery('english'::regconfig, $1), 1)
                 + CASE WHEN h.kind = 'conversation'
                        THEN greatest(word_similarity($1, h.doc_name),
                                      word_similarity($1, h.doc_client))
                        ELSE 0 END)::float8 AS rank
    FROM hits h
), page AS (
    SELECT * FROM ranked r {cut} ORDER BY r.rank DESC, r.position DESC LIMIT {size}
), shown AS (
    SELECT t.*, {headline} AS headline FROM (SELECT page.*, {text} AS text FROM page) t
)
SELECT w.size AS window_size, w.top AS window_top, w.bottom AS window_bottom, p.kind,
       p.doc_id, p.conversation_id, p.rank, p.position, p.created_at, p.seq, p.sender,
       p.author_id, p.client_id, p.client_name, p.status, p.merged_into, p.headline
FROM (SELECT count(*) AS size, max(position) AS top, min(position) AS bottom FROM hits) w
LEFT JOIN shown p ON true
ORDER BY p.rank DESC, p.position DESC
"""


def search_statement(
    request: SearchRequest,
    *,
    top: int,
    window: int,
    after: tuple[float, int] | None,
    size: int,
) -> tuple[str, list[Any]]:
    """The statement (and its arguments) for a page of ``size`` hits of the
    window of the ``window`` newest matches at or below position ``top``,
    after the hit ranked ``after`` (rank, position) in it. Every row also
    tells the window's size, highest and lowest position (one row with the
    hit's columns ``NULL`` when there is no hit). Run it after ``SEARCH_SETTINGS``."""
    args: list[Any] = [request.q, WHOLE_OPTIONS, FRAGMENT_OPTIONS]
    conversations = " AND ".join(where_conditions(request.filters, args)) or "true"

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    own = ""
    if request.scope.client_id is not None:
        own += f" AND d.client_id = {arg(request.scope.client_id)}"
    if not request.scope.notes:
        own += " AND d.kind <> 'note'"
    names = "false"
    if words := name_words(request.q):
        alike = " AND ".join(f"{arg(w)} <% d.client_name" for w in words)
        names = f"d.kind = 'conversation' AND {alike}"
    below, count = arg(top), arg(window)
    cut = ""
    if after is not None:
        cut = f"WHERE (r.rank, r.position) < ({arg(after[0])}::float8, {arg(after[1])}::bigint)"
    return _STATEMENT.format(
        conversations=conversations, names=names, own=own, top=below, window=count,
        cut=cut, size=arg(size), headline=_HEADLINE, text=_TEXT,
    ), args  # fmt: skip


async def search(
    pool: asyncpg.Pool,
    request: SearchRequest,
    *,
    after: Cursor | None,
    limit: int,
    window: int = RANK_WINDOW,
) -> SearchPage:
    """One page of ``request``'s hits, after ``after``."""
    found: list[tuple[int, asyncpg.Record]] = []  # (window top, row)
    top = after.top if after is not None else MAX_POSITION
    last = None
    if after is not None and after.rank is not None and after.position is not None:
        last = (after.rank, after.position)
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(SEARCH_SETTINGS)
        while True:
            size = limit + 1 - len(found)
            sql, args = search_statement(request, top=top, window=window, after=last, size=size)
            rows = await conn.fetch(sql, *args)
            # The window's own top: the same window now, and later (what
            # arrives meanwhile is above it).
            top = rows[0]["window_top"] or top
            found += [(top, r) for r in rows if r["doc_id"] is not None]
            if len(found) > limit or rows[0]["window_size"] < window:
                break
            top, last = rows[0]["window_bottom"] - 1, None  # the next (older) window
    page = found[:limit]
    next_after = None
    if len(found) > limit:
        top, row = page[-1]
        cursor = Cursor(request.digest, top, row["rank"], row["position"])
        next_after = encode_cursor(cursor)
    return SearchPage(items=[_hit(r) for _, r in page], next_after=next_after)


def _hit(row: asyncpg.Record) -> SearchHit:
    values = {f: row[f] for f in SearchHit.__struct_fields__ if f not in ("id", "snippet")}
    return SearchHit(id=row["doc_id"], snippet=mark(row["headline"]), **values)
