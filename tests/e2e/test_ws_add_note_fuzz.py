"""ADD_NOTE frames made by Hypothesis, on a staff conversation socket, the
inbox and a client's socket, over real sockets: each frame gets exactly one
answer (an ACK only from staff; an ERROR carrying its ref when it had a
valid one), the socket still answers PING, and none is ever closed (no 1011,
no dead socket). The client's socket never sees a note."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import start, token_for, ws_url

EXAMPLES = 80
STAFF_ONLY = {"NOTE_ADDED", "LABELLED", "UNLABELLED", "NOTIFICATION"}

text = st.text(st.characters(codec="utf-8"), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def add_note_frames(draw: st.DrawFn, conversation_ids: list[str], agent: str) -> dict[str, Any]:
    """A valid ADD_NOTE, then up to two of its fields dropped or made anything."""
    cids = st.sampled_from(conversation_ids)
    frame: dict[str, Any] = {
        "type": "ADD_NOTE",
        "ref": draw(st.text("abcdef0123456789", min_size=1, max_size=12)),
        "content": draw(
            st.sampled_from(["ok", f"ping @{agent}", f"@{agent}, @nobody: (@{agent})"])
        ),
    }
    if draw(st.booleans()):
        frame["conversation_id"] = draw(cids)
    if draw(st.booleans()):
        frame["mentions"] = draw(st.lists(st.just(agent), max_size=2))
    if draw(st.booleans()):
        frame["command_id"] = str(draw(st.uuids()))
    ids = st.sampled_from([agent, "ghost", "", "has space", "a/b", "x" * 201]) | text
    anything = {
        "ref": text | st.integers() | st.text(min_size=99, max_size=102),
        "content": st.sampled_from(["   ", "x" * 4_001, "a\x00"]) | text | json_values,
        "conversation_id": st.sampled_from(["nope", 7]) | st.uuids().map(str) | json_values,
        "mentions": st.lists(ids, max_size=60) | json_values,
        "command_id": text | json_values,
        "extra": json_values,
    }
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(anything)))
        if draw(st.booleans()):
            frame.pop(key, None)
        else:
            frame[key] = draw(anything[key])
    return frame


class Sockets:
    def __init__(self, urls: dict[str, str]) -> None:
        self.stack = ExitStack()
        self.sockets: dict[str, ClientConnection] = {}
        self.answers: Counter[str] = Counter()
        self.seen: dict[str, set[str]] = {name: set() for name in urls}
        for name, url in urls.items():
            self.sockets[name] = self.stack.enter_context(connect(url, open_timeout=30))
            self.until(name, lambda frame: frame["type"] == "READY")

    def until(self, name: str, done: Any) -> list[dict[str, Any]]:
        got = []
        while True:
            message = self.sockets[name].recv(timeout=30)
            assert isinstance(message, str), message
            frame: dict[str, Any] = json.loads(message)
            got.append(frame)
            self.seen[name].add(frame["type"])
            if done(frame):
                return got

    def one(self, name: str, frame: dict[str, Any]) -> None:
        ws, probe = self.sockets[name], f"probe-{uuid.uuid4()}"
        ws.send(json.dumps(frame))
        ws.send(json.dumps({"type": "PING", "ref": probe}))
        got = self.until(name, lambda f: f["type"] == "PONG" and f["ref"] == probe)
        answers = [f for f in got if f["type"] in ("ACK", "ERROR")]
        assert len(answers) == 1, (frame, got)
        (answer,) = answers
        ref = frame.get("ref")
        if isinstance(ref, str) and len(ref) <= 100:
            assert answer["ref"] == ref, (frame, answer)
        key = (
            answer["type"] if answer["type"] == "ACK" else f"{answer['code']}:{answer.get('field')}"
        )
        self.answers[f"{name}:{key}"] += 1
        if name == "client":
            assert answer["type"] == "ERROR", (frame, answer)
            assert answer["code"] in ("forbidden", "invalid_frame", "unknown_frame"), answer


def fuzz(sockets: Sockets, conversation_ids: list[str], agent: str) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        name=st.sampled_from(["staff", "inbox", "client"]),
        frame=add_note_frames(conversation_ids, agent),
    )
    def case(name: str, frame: dict[str, Any]) -> None:
        sockets.one(name, frame)

    case()


@pytest.mark.timeout(300)
async def test_no_add_note_frame_kills_a_socket_and_a_client_never_gets_one(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)  # client c-1's
    run = uuid.uuid4().hex[:6]
    staff = f"fuzz-note-staff-{run}"
    urls = {
        "staff": ws_url(server_url, f"/ws/{cid}", token_for(staff)),
        "inbox": ws_url(
            server_url, "/ws/inbox", token_for(f"fuzz-note-inbox-{run}"), after_position="now"
        ),
        "client": ws_url(server_url, f"/ws/{cid}", token_for(f"fuzz-note-{run}", "client", "c-1")),
    }
    sockets = await asyncio.to_thread(Sockets, urls)
    try:
        await asyncio.to_thread(fuzz, sockets, [cid], staff)
        for name in sockets.sockets:  # every socket is alive and answers
            await asyncio.to_thread(sockets.one, name, {"type": "ADD_NOTE", "ref": "last"})
    finally:
        await asyncio.to_thread(sockets.stack.close)
    print(dict(sockets.answers))
    assert not STAFF_ONLY & sockets.seen["client"]
    assert sockets.answers["client:forbidden:None"] > 0
    assert sockets.answers["staff:ACK"] + sockets.answers["inbox:ACK"] > 0
