"""Fuzzing the WebSocket edge over real sockets: every client frame type, made
by Hypothesis and then mutated (wrong types, missing and extra fields, huge
strings, deep nesting, NUL, numbers out of range, unknown types, truncated
JSON, fragments, binary frames, invalid UTF-8 in text frames), on
conversation sockets (staff and client tokens) and the inbox socket.

After each frame the socket must still answer a PING with its PONG, every
ERROR must carry the frame's ref when it had a valid one, and no socket may
close 1011. Invalid UTF-8 in a text frame is the one frame that closes a
socket (1007, as RFC 6455 requires); the fuzzer then opens another.

Runs for PARLEY_WS_FUZZ_SECONDS (12 by default); PARLEY_WS_FUZZ_REPORT names a
JSON file for the figures (docs/RELIABILITY.md, "WebSocket fuzzing").
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import start, token_for, ws_url

SECONDS = float(os.environ.get("PARLEY_WS_FUZZ_SECONDS", "12"))
REPORT = os.environ.get("PARLEY_WS_FUZZ_REPORT")
LIMIT = 64 * 1024
RAW = "\x00raw\x00"  # a placeholder json.dumps keeps, replaced by raw JSON text

TYPES = [
    "SEND_MESSAGE",
    "TYPING_START",
    "TYPING_STOP",
    "MARK_READ",
    "PING",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ADD_NOTE",
]
RAW_VALUES = [
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "9223372036854775808",
    "-9223372036854775809",
    "0.5",
    "-1",
    "0",
    '"\\u0000"',
    '"\\ud800"',
    "[" * 33 + "]" * 33,
    "[" * 10_000 + "]" * 10_000,
    "{" + '"a":{' * 5_000 + "}" * 5_001,
    "[" + ",".join(["1"] * 20_000) + "]",
]

text = st.text(st.characters(codec="utf-8"), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
huge_strings = st.builds(
    lambda n, c: c * n, st.integers(1, LIMIT + 2_000), st.sampled_from(["x", "é", "\x00", "€"])
)


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed frame of some client type (before mutation)."""
    kind = draw(st.sampled_from(TYPES))
    frame: dict[str, Any] = {"type": kind}
    if draw(st.booleans()):
        frame["ref"] = draw(text | st.integers() | st.text(min_size=99, max_size=102))
    if kind == "SEND_MESSAGE":
        frame["content"] = draw(text)
        if draw(st.booleans()):
            frame["client_message_id"] = draw(text)
        if draw(st.booleans()):
            frame["message_type"] = draw(st.sampled_from(["text", "image", "file", "gif"]))
        if draw(st.booleans()):
            frame["attachment"] = {"url": draw(text), "name": draw(text)}
    elif kind == "ADD_NOTE":
        frame["content"] = draw(text)
        if draw(st.booleans()):
            frame["mentions"] = draw(st.lists(text, max_size=3))
    elif kind == "MARK_READ" and draw(st.booleans()):
        frame["up_to_seq"] = draw(st.integers(-5, 5) | st.integers())
    if kind in ("SEND_MESSAGE", "MARK_READ") and draw(st.booleans()):
        # the stale-action guard: behind, at, ahead of the head, or out of range
        frame["seen_version"] = draw(st.integers(-2, 8) | st.integers())
    if kind in ("SUBSCRIBE", "UNSUBSCRIBE") or (kind == "ADD_NOTE" and draw(st.booleans())):
        frame["conversation_id"] = str(draw(st.uuids()))
    return frame


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str | bytes | list[str], str | None]:
    """(socket, what to send, the ref its ERROR must carry if known)."""
    target = draw(st.sampled_from(["staff", "client", "inbox"]))
    frame = draw(frames())
    raw_value = None
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*frame, "type", "ref", "extra"]))
        match draw(st.sampled_from(["drop", "value", "huge", "raw"])):
            case "drop":
                frame.pop(key, None)
            case "value":
                frame[key] = draw(json_values)
            case "huge":
                frame[key] = draw(huge_strings)
            case "raw" if raw_value is None:
                raw_value = draw(st.sampled_from(RAW_VALUES))
                frame[key] = RAW
    encoded = json.dumps(frame, ensure_ascii=draw(st.booleans()))
    try:
        json.dumps(frame, allow_nan=False)
        not_json = False
    except ValueError:  # Infinity: Python writes it, JSON has no such thing
        not_json = True
    if raw_value is not None:
        encoded = encoded.replace(json.dumps(RAW), raw_value)
    ref = frame.get("ref")
    valid_ref = isinstance(ref, str) and len(ref) <= 100 and ref != RAW
    known_ref = ref if valid_ref and not not_json else None
    how = draw(st.sampled_from(["text", "text", "text", "truncated", "fragments", "binary"]))
    if raw_value is not None and (
        raw_value.count("[") + raw_value.count("{") > 30 or "\\ud800" in raw_value
    ):
        known_ref = None  # too deep (not read further), or not JSON (a lone surrogate)
    if len(encoded.encode()) > LIMIT or how in ("truncated", "binary"):
        known_ref = None
    if how == "truncated":
        return target, encoded[: draw(st.integers(0, max(0, len(encoded) - 1)))], None
    if how == "fragments":
        cut = sorted(draw(st.lists(st.integers(0, len(encoded)), max_size=4)))
        bounds = zip([0, *cut], [*cut, len(encoded)], strict=True)
        return target, [encoded[a:b] for a, b in bounds], known_ref
    if how == "binary":
        return target, encoded.encode(), None
    return target, encoded, known_ref


@dataclass
class Fuzzer:
    urls: dict[str, str]
    sockets: dict[str, ClientConnection] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    last_bad_utf8: float = 0.0
    stack: ExitStack = field(default_factory=ExitStack)

    def socket(self, target: str) -> ClientConnection:
        if target not in self.sockets:
            ws = self.stack.enter_context(connect(self.urls[target], open_timeout=30))
            self.sockets[target] = ws
            self.answers(ws, None)  # up to READY
        return self.sockets[target]

    def answers(self, ws: ClientConnection, probe: str | None) -> list[dict[str, Any]]:
        """The frames until the PONG for ``probe`` (None: until READY)."""
        got = []
        while True:
            message = ws.recv(timeout=30)
            assert isinstance(message, str), message
            frame = json.loads(message)
            got.append(frame)
            if frame["type"] == ("READY" if probe is None else "PONG") and (
                probe is None or frame["ref"] == probe
            ):
                return got

    def closed(self, target: str, code: int | None, expected: int | None) -> list[str]:
        self.closes[code or 0] += 1
        self.sockets.pop(target).close()
        return [] if code == expected else [f"{target} closed {code}, expected {expected}"]

    def one(self, target: str, payload: str | bytes | list[str], ref: str | None) -> list[str]:
        """Send one case; what went wrong (nothing, hopefully)."""
        ws = self.socket(target)
        probe, expect = f"probe-{uuid.uuid4()}", None
        try:
            # Every other binary case, at most twice a second (each costs a
            # reconnect): invalid UTF-8 in a text frame instead.
            if isinstance(payload, bytes) and time.monotonic() - self.last_bad_utf8 > 0.5:
                self.last_bad_utf8, expect = time.monotonic(), 1007
                ws.send(payload + b"\xc3\x28", text=True)
                self.sent["text (invalid UTF-8)"] += 1
                while True:  # what was on its way, then the close
                    ws.recv(timeout=30)
            ws.send(payload)
            self.sent[{str: "text", bytes: "binary", list: "text (fragmented)"}[type(payload)]] += 1
            ws.send(json.dumps({"type": "PING", "ref": probe}))
            answers = self.answers(ws, probe)
        except ConnectionClosed:
            return self.closed(target, ws.close_code, expect)
        problems = []
        for frame in answers:
            if frame["type"] != "ERROR":
                continue
            self.errors[frame["code"]] += 1
            if ref is not None and frame["ref"] != ref:
                problems.append(f"ERROR without the ref {ref!r}: {frame}")
        return problems

    def close(self) -> None:
        self.stack.close()


def fuzz(fuzzer: Fuzzer, seconds: float) -> int:
    """Run Hypothesis batches for ``seconds``; the number of cases run."""
    deadline, runs = time.monotonic() + seconds, 0

    @settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def batch(case: tuple[str, str | bytes | list[str], str | None]) -> None:
        nonlocal runs
        if time.monotonic() > deadline:
            return
        runs += 1
        problems = fuzzer.one(*case)
        fuzzer.problems += problems
        assert not problems, problems

    while time.monotonic() < deadline:
        batch()
    return runs


@pytest.mark.timeout(SECONDS + 240)
async def test_no_frame_closes_a_socket_1011_and_every_socket_still_answers_ping(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)  # client c-1's
    run = uuid.uuid4().hex[:6]
    urls = {
        "staff": ws_url(server_url, f"/ws/{cid}", token_for(f"fuzz-staff-{run}")),
        "client": ws_url(server_url, f"/ws/{cid}", token_for(f"fuzz-{run}", "client", "c-1")),
        "inbox": ws_url(
            server_url, "/ws/inbox", token_for(f"fuzz-inbox-{run}"), after_position="now"
        ),
    }
    fuzzer = Fuzzer(urls)
    started = time.monotonic()
    try:
        runs = await asyncio.to_thread(fuzz, fuzzer, SECONDS)
    finally:
        await asyncio.to_thread(fuzzer.close)
    figures = {
        "seconds": round(time.monotonic() - started, 1),
        "cases": runs,
        "frames_sent": dict(fuzzer.sent),
        "error_codes": dict(fuzzer.errors.most_common()),
        "closes": {str(code): n for code, n in fuzzer.closes.items()},
        "closes_1011": fuzzer.closes[1011],
    }
    print(json.dumps(figures, indent=2))
    if REPORT:
        await asyncio.to_thread(Path(REPORT).write_text, json.dumps(figures, indent=2))
    assert not fuzzer.problems
    assert fuzzer.closes[1011] == 0
    assert runs > 0 and fuzzer.errors
