"""Search's pure parts: what ``q`` may be, which of its words a name must
match, how a snippet is marked (safe HTML), the page cursor, and who may
search what."""

from __future__ import annotations

import base64
import html
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.model import Actor, Role
from read_api.search_queries import Scope
from read_api.search_text import (
    MAX_NAME_WORDS,
    MAX_QUERY_LENGTH,
    START,
    STOP,
    BadSearch,
    Cursor,
    check_query,
    decode_cursor,
    digest,
    encode_cursor,
    mark,
    name_words,
)
from read_api.views import search_scope

# -- q -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "searched"),
    [
        ("refund", "refund"),
        ("  refund  order \t", "refund  order"),
        ('"not arrived" -spam or refund', '"not arrived" -spam or refund'),
        ("::*&|!()<-> 4", "::*&|!()<-> 4"),  # tsquery syntax is just text to websearch
        ("Müller", "Müller"),
        ("注文", "注文"),
    ],
)
def test_any_text_with_a_letter_or_digit_is_searched_as_given(q: str, searched: str) -> None:
    assert check_query(q) == searched


@pytest.mark.parametrize("q", ["", "   ", "\t\n", "!!!", "&|!()", "— …", "\x00a"])
def test_nothing_to_search_for_is_refused_on_q(q: str) -> None:
    with pytest.raises(BadSearch) as refused:
        check_query(q)
    assert refused.value.field == "q"


def test_q_is_bounded() -> None:
    assert check_query("a" * MAX_QUERY_LENGTH) == "a" * MAX_QUERY_LENGTH
    with pytest.raises(BadSearch, match="at most"):
        check_query("a" * (MAX_QUERY_LENGTH + 1))


def test_a_name_must_match_every_word_of_a_short_q() -> None:
    assert name_words("Jonh Smiht") == ("Jonh", "Smiht")
    # One-letter words and punctuation say nothing about a name.
    assert name_words("J. R. R. Tolkien") == ("J.", "R.", "R.", "Tolkien")
    assert name_words("a Tolkien ?!") == ("Tolkien",)
    # A sentence is not a name: only its text is searched.
    assert name_words(" ".join(["word"] * (MAX_NAME_WORDS + 1))) == ()


# -- snippets ------------------------------------------------------------------------


def test_matches_are_marked_and_everything_else_escaped() -> None:
    headline = f"<b>Hi</b> & I want a {START}refund{STOP} \"now\" for {START}order{STOP} 'x'"
    assert mark(headline) == (
        "&lt;b&gt;Hi&lt;/b&gt; &amp; I want a <mark>refund</mark> &quot;now&quot; for"
        " <mark>order</mark> &#x27;x&#x27;"
    )


def test_stray_markers_never_unbalance_the_marking() -> None:
    assert mark(f"{STOP}a{START}{START}b{STOP}{STOP}c{START}d") == (
        "a<mark>b</mark>c<mark>d</mark>"
    )


@given(st.text(alphabet=st.sampled_from(["<", ">", "&", '"', "'", "a", " ", START, STOP])))
def test_a_snippet_is_text_with_balanced_marks_only(headline: str) -> None:
    marked = mark(headline)
    # The only tags are <mark> and </mark>, alternating, starting with an opening one.
    tags = re.findall(r"<[^>]*>", marked)
    assert set(tags) <= {"<mark>", "</mark>"}
    assert tags == ["<mark>", "</mark>"] * (len(tags) // 2)
    # Without them, it is the text (markers dropped), escaped.
    plain = headline.replace(START, "").replace(STOP, "")
    assert html.unescape(re.sub(r"</?mark>", "", marked)) == plain


# -- cursors -------------------------------------------------------------------------


def test_a_cursor_comes_back_as_it_went() -> None:
    for cursor in (Cursor("abc", 2**63 - 1), Cursor("abc", 99, 0.123456789012345, 42)):
        assert decode_cursor(encode_cursor(cursor), "abc") == cursor


def test_a_cursor_pages_only_its_own_search() -> None:
    cursor = encode_cursor(Cursor(digest("refund", {}), 10, 0.5, 3))
    with pytest.raises(BadSearch, match="another search") as refused:
        decode_cursor(cursor, digest("refunds", {}))
    assert refused.value.field == "after"


def forged(value: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!",
        "bm90IGpzb24",  # "not json"
        forged({"search": "d", "top": 1}),
        forged(["d"]),
        forged(["d", -1]),
        forged(["d", 2**63]),
        forged(["d", 1, 0.5]),  # a rank without a position
        forged(["d", 1, None, 5]),
        forged(["d", 1, 0.5, "5"]),
        forged(["d", True, 0.5, 5]),
        forged(["d", 1, 0.5, 5, "extra"]),
    ],
)
def test_a_cursor_we_never_gave_out_is_refused(text: str) -> None:
    with pytest.raises(BadSearch) as refused:
        decode_cursor(text, "d")
    assert refused.value.field == "after"


def test_digests_differ_with_what_was_searched() -> None:
    assert digest("a", {"status": None}) == digest("a", {"status": None})
    assert digest("a", {"status": None}) != digest("a", {"status": "closed"})


# -- who searches what ---------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT])
def test_staff_search_every_conversation_and_its_notes(role: Role) -> None:
    assert search_scope(Actor(id="s", role=role)) == Scope(client_id=None, notes=True)


def test_a_client_searches_its_own_conversations_without_notes() -> None:
    carol = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
    assert search_scope(carol) == Scope(client_id="c-1", notes=False)
