"""The hash chain's canonical bytes and hashes, in Python (events/chain.py).
That the database computes the same is tests/integration/test_event_chain.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from events.chain import (
    GENESIS,
    HASH_SIZE,
    Head,
    content_digest,
    event_hash,
    parse_head,
    timestamptz_micros,
)

EVENT_ID = UUID("12345678-1234-5678-1234-567812345678")
AT = datetime(2026, 12, 3, 17, 0, 0, 123456, tzinfo=UTC)
CONTENT: dict[str, Any] = {
    "stream_id": "conversation-é",
    "event_id": EVENT_ID,
    "type": "MessageSent",
    "schema_version": 2,
    "data": '{"a": "☃", "b": [1, {"c": null}]}',
    "metadata": "{}",
}
# Computed once; the integration test gets the same two values from
# parley_event_content and parley_event_hash on these inputs. A change here
# is a change of the chain's format: every stored log would fail verify.
GOLDEN_CONTENT = "3eb5a931468d230a1d56186df9fffb4515e0e91a23c9fedd61b7bc270b7cdbae"
GOLDEN_HASH = "cfafa3d120a848ee0baa46c0b94ed74a9df578098f5a771c79695c2a5f195ea8"


def link(previous: bytes = GENESIS, **changes: Any) -> bytes:
    fields: dict[str, Any] = {"global_position": 1, "stream_position": 1, "recorded_at": AT}
    fields |= {"content": content_digest(**CONTENT)} | changes
    return event_hash(previous, **fields)


def test_the_format_is_pinned_by_a_golden_value() -> None:
    assert content_digest(**CONTENT).hex() == GOLDEN_CONTENT
    assert link().hex() == GOLDEN_HASH
    assert len(link()) == HASH_SIZE == len(GENESIS)
    assert bytes(32) == GENESIS


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("stream_id", "conversation-e"),
        ("event_id", UUID(int=1)),
        ("type", "MessagesRead"),
        ("schema_version", 1),
        ("data", '{"a": "☃", "b": [1, {"c": 0}]}'),
        ("metadata", '{"actor_id": "mallory"}'),
    ],
)
def test_every_content_field_counts(field: str, other: Any) -> None:
    assert content_digest(**CONTENT | {field: other}) != content_digest(**CONTENT)


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("global_position", 2),
        ("stream_position", 2),
        ("recorded_at", AT + timedelta(microseconds=1)),
        ("content", bytes(32)),
    ],
)
def test_every_link_field_counts(field: str, other: Any) -> None:
    assert link(**{field: other}) != link()


def test_the_previous_hash_counts() -> None:
    assert link(previous=link()) != link()


def test_no_field_runs_into_the_next() -> None:
    # The same bytes split differently between two texts are another event.
    moved = CONTENT | {"stream_id": "conversation-éMessage", "type": "Sent"}
    assert content_digest(**moved) != content_digest(**CONTENT)
    moved = CONTENT | {"data": '{"a": "☃", "b": [1, {"c": null}]}{', "metadata": "}"}
    assert content_digest(**moved) != content_digest(**CONTENT)


def test_text_and_the_raw_bytes_of_a_column_hash_alike() -> None:
    # asyncpg gives jsonb as text, the store's connections as raw UTF-8 bytes.
    raw = CONTENT | {"data": CONTENT["data"].encode(), "metadata": b"{}"}
    assert content_digest(**raw) == content_digest(**CONTENT)


def test_a_zero_byte_cannot_be_hashed() -> None:
    # No PostgreSQL text holds one, which is what makes it a safe separator.
    with pytest.raises(ValueError, match="zero byte"):
        content_digest(**CONTENT | {"type": "Message\0Sent"})


def test_recorded_at_is_postgresql_s_microseconds_in_any_time_zone() -> None:
    # PostgreSQL's epoch, 2000-01-01 UTC: timestamptz_send('2026-12-03
    # 17:00:00.123456Z') is 000304bc75662640.
    assert timestamptz_micros(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert timestamptz_micros(AT) == 0x000304BC75662640 == 849_632_400_123_456
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert timestamptz_micros(paris) == timestamptz_micros(AT)
    assert link(recorded_at=paris) == link()
    before = datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert timestamptz_micros(before) == -1
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamptz_micros(AT.replace(tzinfo=None))


def test_a_head_prints_and_parses_as_pos_colon_hex() -> None:
    head = Head(9, link())
    assert str(head) == f"9:{GOLDEN_HASH}"
    assert parse_head(str(head)) == head
    assert parse_head(f" 9:{GOLDEN_HASH.upper()}\n") == head
    assert parse_head(f"0:{'0' * 64}") == Head(0, GENESIS)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "9",
        GOLDEN_HASH,
        f"9 {GOLDEN_HASH}",
        f"-1:{GOLDEN_HASH}",
        f"x:{GOLDEN_HASH}",
        f"9:{GOLDEN_HASH[:-1]}",
        f"9:{GOLDEN_HASH}0",
        f"9:{GOLDEN_HASH[:-1]}g",
        f"9:0x{GOLDEN_HASH[2:]}",
    ],
)
def test_a_malformed_head_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="is not POS:HASH"):
        parse_head(text)
