"""The JSON nesting bound that keeps deep bodies from reaching the decoder."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from commands.http import MAX_JSON_DEPTH, json_depth_exceeds

# Strings full of what the scanner looks at: brackets, quotes, backslashes.
TRICKY_TEXT = st.text(st.sampled_from('[]{}"\\ a\x00é'), max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
    max_leaves=60,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@given(JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_it_measures_the_nesting_of_any_json_value(value: Any, limit: int) -> None:
    body = json.dumps(value, ensure_ascii=False).encode()
    assert json_depth_exceeds(body, limit) == (depth(value) > limit)


def test_deep_arrays_and_objects_exceed_the_default_bound() -> None:
    at_the_bound = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert not json_depth_exceeds(at_the_bound)
    assert json_depth_exceeds(b"[" + at_the_bound + b"]")
    assert json_depth_exceeds(b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    # Unclosed: what counts is how deep it goes, not whether it parses.
    assert json_depth_exceeds(b"[" * 1_000)


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    assert not json_depth_exceeds(b'["' + b"[" * 1_000 + b'"]')
    assert not json_depth_exceeds(b'["\\"' + b"[" * 1_000 + b'"]')
    assert not json_depth_exceeds(b'["\\\\\\"[[[", "' + b"{" * 100 + b'"]')
    # An escaped backslash ends before the quote: the quote closes the string.
    assert json_depth_exceeds(b'["\\\\"' + b"[" * 100 + b"]" * 100 + b"]")


def test_invalid_utf8_and_unbalanced_quotes_are_scanned_in_one_pass() -> None:
    # Would be quadratic for a regex that retries a string at every quote.
    hostile = b"[" * 40 + b'"\\"' * 20_000 + b"\xff"
    assert json_depth_exceeds(hostile) is True
