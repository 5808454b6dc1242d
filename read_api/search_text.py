"""Search's pure parts: what ``q`` may be, how a snippet is marked, and the
page cursor. No I/O.

Snippets: PostgreSQL's ``ts_headline`` picks the fragments (a short text:
all of it) and wraps each match in two private-use characters (``START``,
``STOP``; they are removed from the text first, so only the marking carries
them); :func:`mark` then HTML-escapes the whole snippet and turns the
markers into ``<mark>`` and ``</mark>``. A snippet is therefore safe HTML whose only tags are
``<mark>…</mark>``, balanced and never nested."""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import math
import re
from typing import Any

import msgspec

MAX_QUERY_LENGTH = 200
"""Characters of ``q``, at most."""
MAX_NAME_WORDS = 4
"""A ``q`` of more words than this is not a name (it matches text only)."""
RANK_WINDOW = 500
"""Documents ranked together: the newest this many matches (see search_queries)."""

START = "\ue000"
"""Opens a match in ``ts_headline``'s output (Unicode private use)."""
STOP = "\ue001"
"""Closes a match."""
LT = "\ue002"
"""Stands for ``<`` in ``ts_headline``'s input (which would drop what looks
like an HTML tag); :func:`mark` turns it back."""
MARKERS = START + STOP + LT
"""Removed from the text before ``ts_headline``: only the marking carries them."""
_MARKING = f"StartSel={START}, StopSel={STOP}"
WHOLE = 300
"""A text of at most this many characters is its own snippet, whole."""
WHOLE_OPTIONS = f"{_MARKING}, HighlightAll=true"
"""``ts_headline``'s options for a short text: all of it, matches marked."""
FRAGMENT_OPTIONS = (
    f'{_MARKING}, MaxWords=20, MinWords=8, ShortWord=0, MaxFragments=2, FragmentDelimiter=" … "'
)
"""For a longer text: up to two fragments of 8 to 20 words around matches."""

_SEARCHABLE = re.compile(r"\w")


class BadSearch(ValueError):
    """``q`` or the cursor cannot be used; ``field`` names which."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_query(q: str) -> str:
    """``q`` without surrounding white space; :class:`BadSearch` when there is
    nothing to search for (empty, blank, only punctuation) or it is too long.
    Any other text is valid: ``websearch_to_tsquery`` parses whatever it is
    given (quotes, ``or``, ``-`` for not) and never fails."""
    text = q.strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise BadSearch(f"q is at most {MAX_QUERY_LENGTH} characters", "q")
    if "\x00" in text:
        raise BadSearch("q may not contain NUL characters", "q")
    if not _SEARCHABLE.search(text):
        raise BadSearch("q needs at least one letter or digit to search for", "q")
    return text


def name_words(q: str) -> tuple[str, ...]:
    """The words of ``q`` each of which must be like a word of a client's
    name for the name to match (at most ``MAX_NAME_WORDS``, each of two
    characters or more, one with a letter or digit); none: names are not
    searched. Every word must match, so "Jonh Smiht" finds John Smith, not
    every John and every Smith."""
    words = [w for w in q.split() if len(w) >= 2 and _SEARCHABLE.search(w)]
    return tuple(words) if len(words) <= MAX_NAME_WORDS else ()


def mark(headline: str) -> str:
    """``ts_headline``'s output as safe HTML: the text escaped, each match in
    ``<mark>…</mark>`` (a stray or repeated marker is dropped, an open match
    is closed at the end)."""
    out: list[str] = []
    open_ = False
    for part in re.split(f"([{MARKERS}])", headline):
        if part == START:
            if not open_:
                out.append("<mark>")
                open_ = True
        elif part == STOP:
            if open_:
                out.append("</mark>")
                open_ = False
        elif part:
            out.append(html.escape(part.replace(LT, "<"), quote=True))
    if open_:
        out.append("</mark>")
    return "".join(out)


class Cursor(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Where a page ends: the ranking window it is in (``top``: the window
    is the newest matches at or below this position), the last hit's
    ``rank`` and ``position`` in it (``None``: the window's start), and
    ``search``, a digest of what was searched for (a cursor pages one search)."""

    search: str
    top: int
    rank: float | None = None
    position: int | None = None


def digest(*parts: object) -> str:
    """A short digest of a search (its text, filters and viewer's scope)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()


def encode_cursor(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).decode().rstrip("=")


_decode = msgspec.json.Decoder(Cursor).decode


def decode_cursor(text: str, search: str) -> Cursor:
    """The cursor ``text`` of the search ``search``; :class:`BadSearch`
    (field ``after``) for one we never gave out or one of another search."""
    try:
        cursor = _decode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, msgspec.DecodeError, ValueError) as error:
        raise BadSearch("after is not a cursor this API gave out", "after") from error
    if cursor.search != search:
        raise BadSearch("this cursor pages another search (q, filters)", "after")
    if not _sound(cursor):
        raise BadSearch("after is not a cursor this API gave out", "after")
    return cursor


def _sound(cursor: Cursor) -> bool:
    positions: list[Any] = [cursor.top, cursor.position]
    if any(p is not None and not 0 <= p < 2**63 for p in positions):
        return False
    if (cursor.rank is None) != (cursor.position is None):
        return False
    return cursor.rank is None or math.isfinite(cursor.rank)
