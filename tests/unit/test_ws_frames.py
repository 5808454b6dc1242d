"""WebSocket frames in and out: bounded decoding, refs on every ERROR, the
ERROR for a refused command, where a socket starts, and fields always there."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from commands import errors
from events.store import StoreUnavailable
from ws_edge import frames, inbound
from ws_edge.resume import BadStart, start_at

LIMIT = 64 * 1024


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 1_000, 10_000, LIMIT // 2 - 20])
def test_deep_nesting_is_an_error_not_a_recursion_error(depth: int) -> None:
    error = inbound.decode('{"type": "PING", "x": ' + nested(depth) + "}", LIMIT)
    assert isinstance(error, frames.Error) and error.code == "invalid_frame"
    assert "nest" in error.message


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine() -> None:
    deepest = '{"type": "PING", "ref": "r", "x": ' + nested(inbound.MAX_DEPTH - 1) + "}"
    assert inbound.decode(deepest, LIMIT) == frames.PingFrame(ref="r")
    in_strings = json.dumps({"type": "PING", "x": "[{" * 20_000 + '\\"[', "ref": "s"})
    assert inbound.decode(in_strings, LIMIT) == frames.PingFrame(ref="s")


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ('{"type": "SHOUT", "ref": "r1"}', "unknown_frame", None),
        ('{"ref": "r1"}', "unknown_frame", None),
        ('{"type": "SEND_MESSAGE", "ref": "r1"}', "invalid_frame", "content"),
        (
            '{"type": "SEND_MESSAGE", "content": "a\\u0000", "ref": "r1"}',
            "invalid_frame",
            "content",
        ),
        ('{"type": "MARK_READ", "up_to_seq": 1e400, "ref": "r1"}', "invalid_frame", "up_to_seq"),
        ('{"type": "SUBSCRIBE", "conversation_id": [1], "ref": "r1"}', "invalid_frame", None),
    ],
)
def test_an_invalid_frame_error_carries_the_frames_ref(
    text: str, code: str, field: str | None
) -> None:
    error = inbound.decode(text, LIMIT)
    assert isinstance(error, frames.Error)
    assert (error.code, error.ref) == (code, "r1")
    if field is not None:
        assert error.field == field


@pytest.mark.parametrize(
    "text",
    ['{"type": "SHOUT", "ref": 7}', '{"type": "SHOUT", "ref": "' + "x" * 101 + '"}', "[1, 2]"],
)
def test_a_ref_that_is_not_a_valid_one_is_not_echoed(text: str) -> None:
    error = inbound.decode(text, LIMIT)
    assert isinstance(error, frames.Error) and error.ref is None


def test_not_json_and_too_large() -> None:
    assert inbound.decode('{"ref": "r", ', LIMIT) == frames.Error(
        code="malformed_json", message="the frame is not JSON"
    )
    error = inbound.decode('{"type": "PING", "x": "' + "é" * (LIMIT // 2) + '"}', LIMIT)
    assert isinstance(error, frames.Error) and error.code == "frame_too_large"


def test_unavailable_says_when_to_retry_and_passes_its_details_on() -> None:
    error = inbound.refused(errors.Unavailable("PostgreSQL is away", retry_after=3), "r")
    assert (error.code, error.ref, error.retry_after) == ("unavailable", "r", 3.0)
    assert error.details == {"retry_after": 3}
    error = inbound.refused(StoreUnavailable("timed out", retry_after=0.2), None)
    assert (error.code, error.retry_after) == ("unavailable", 1.0)


def test_any_domain_errors_details_pass_through() -> None:
    refusal = errors.InvalidCommand("no", field="up_to_seq", details={"last_seq": 4})
    error = inbound.refused(refusal, "r")
    assert (error.code, error.field, error.details, error.retry_after) == (
        "invalid_command",
        "up_to_seq",
        {"last_seq": 4},
        None,
    )


def encoded(frame: frames.ServerFrame) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(frames.encode_frame(frame))
    return decoded


def test_every_field_is_always_there_but_for_what_a_conversation_update_did_not_change() -> None:
    where = {
        "conversation_id": uuid.uuid4(),
        "stream_position": 2,
        "position": 9,
        "at": datetime.now(UTC),
    }
    ack = encoded(frames.Ack(position=9))
    assert ack["replayed"] is False and ack["ref"] is None and ack["seq"] is None
    created = encoded(
        frames.MessageCreated(
            **where,  # type: ignore[arg-type]
            message_id=uuid.uuid4(),
            seq=1,
            sender="admin",
            sender_id="ann",
            message_type="text",
            content="hi",
        )
    )
    assert created["attachment"] is None and created["client_message_id"] is None
    assert encoded(frames.Pong())["ref"] is None
    error = encoded(frames.Error(code="c", message="m"))
    assert {"ref", "field", "retry_after", "details"} <= error.keys()
    update = encoded(frames.ConversationUpdated(**where, change="updated", priority="High"))  # type: ignore[arg-type]
    assert "summary" not in update and update["priority"] == "High"


async def test_where_a_socket_starts() -> None:
    async def head() -> int:
        return 40

    assert await start_at(None, "after", head) == 0
    assert await start_at("0", "after", head) == 0
    assert await start_at("now", "after", head) == 40
    assert await start_at("40", "after", head) == 40
    for raw in ("41", "9" * 30, "²", "-1", "1.5", ""):
        with pytest.raises(BadStart):
            await start_at(raw, "after", head)
