"""Inbox cursors: each sort's keys go out and come back as they were; a
cursor of another sort, or one we never gave out, is refused."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from read_api.inbox_queries import BadCursor, Sort, decode_cursor, encode_cursor

WHEN = datetime(2026, 12, 3, 10, 0, 0, 123456, tzinfo=UTC)
CID = uuid.UUID("fe6ea44d-432f-4386-aef6-88e3fac3fe8e")  # fixed: test ids hold it
KEYS: dict[Sort, list[Any]] = {
    Sort.LAST_MESSAGE: [WHEN],
    Sort.CREATED: [WHEN],
    Sort.PRIORITY: [2, WHEN],
    Sort.WAITING: [False, WHEN],
}


@pytest.mark.parametrize("sort", list(Sort))
def test_a_cursor_brings_its_keys_back(sort: Sort) -> None:
    cursor = encode_cursor(sort, [*KEYS[sort], str(CID)])
    assert decode_cursor(sort, cursor) == [*KEYS[sort], CID]


@pytest.mark.parametrize("sort", list(Sort))
def test_a_cursor_only_fits_its_own_sort(sort: Sort) -> None:
    cursor = encode_cursor(sort, [*KEYS[sort], str(CID)])
    for other in set(Sort) - {sort}:
        with pytest.raises(BadCursor, match=f"sort={sort.value}"):
            decode_cursor(other, cursor)


def forged(*items: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(items))).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        (Sort.PRIORITY, "%%%"),
        (Sort.PRIORITY, forged()),
        (Sort.PRIORITY, forged("priority", "2", WHEN.isoformat(), str(CID))),  # rank as text
        (Sort.PRIORITY, forged("priority", True, WHEN.isoformat(), str(CID))),  # bool: no rank
        (Sort.PRIORITY, forged("priority", 2, "yesterday", str(CID))),
        (Sort.PRIORITY, forged("priority", 2, WHEN.isoformat(), "not-a-uuid")),
        (Sort.PRIORITY, forged("priority", 2, str(CID))),  # a key missing
        (Sort.WAITING, forged("waiting", 0, WHEN.isoformat(), str(CID))),  # number: no flag
    ],
)
def test_a_cursor_we_never_gave_out_is_refused(sort: Sort, cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(sort, cursor)
