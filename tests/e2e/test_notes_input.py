"""Bad input to the note, notification and timeline endpoints is a clear
4xx, never a 500 (a table, then Hypothesis), and — a property over random
conversations — a client's view never holds a note."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Tokens
from tests.e2e.test_notes_api import start

Json = dict[str, Any]
FUZZ_SECONDS = 8.0


BAD_BODIES = [
    ("/notes", {"content": "x", "colour": "red"}, 400, "invalid_request"),
    ("/notes", {}, 400, "invalid_request"),
    ("/notes", {"content": "   "}, 400, "invalid_request"),
    ("/notes", {"content": "x" * 4001}, 400, "invalid_request"),
    ("/notes", {"content": "a\u0000b"}, 400, "invalid_request"),
    ("/notes", {"content": "x", "mentions": "ann"}, 400, "invalid_request"),
    ("/notes", {"content": "x", "mentions": ["a b"]}, 400, "invalid_request"),
    ("/notes", {"content": "x", "mentions": ["a/b"]}, 400, "invalid_request"),
    ("/notes", {"content": "x", "mentions": [f"a{n}" for n in range(51)]}, 400, "invalid_request"),
    ("/notes", {"content": "x", "seen_version": -1}, 400, "invalid_request"),
    ("/notes", {"content": "x", "command_id": ""}, 400, "invalid_request"),
    ("/read", {"up_to_position": 3, "extra": 1}, 400, "invalid_request"),
    ("/read", {"up_to_position": -1}, 400, "invalid_request"),
    ("/read", {"up_to_position": 2**63}, 400, "invalid_request"),
    ("/read", {"note_ids": ["not-a-uuid"]}, 400, "invalid_request"),
    ("/read", {"note_ids": [str(uuid.uuid4()) for _ in range(101)]}, 400, "invalid_request"),
    ("/read", {}, 422, "invalid_command"),
    ("/read", {"up_to_position": 1, "note_ids": [str(uuid.uuid4())]}, 422, "invalid_command"),
    ("/read", [], 400, "invalid_request"),
]


@pytest.mark.parametrize(("where", "body", "status", "code"), BAD_BODIES)
async def test_a_bad_body_is_a_clear_4xx(
    api: httpx.AsyncClient, tokens: Tokens, where: str, body: Any, status: int, code: str
) -> None:
    cid = await start(api, tokens)
    path = f"/api/conversations/{cid}/notes" if where == "/notes" else "/api/notifications/read"

    response = await api.post(path, json=body, headers=tokens.agent)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code


BAD_QUERIES = [
    ("timeline", {"limit": 0}),
    ("timeline", {"limit": 101}),
    ("timeline", {"after": -1}),
    ("timeline", {"after": 2**63}),
    ("timeline", {"after": "x"}),
    ("timeline", {"wait": 11}),
    ("notifications", {"before": 0}),
    ("notifications", {"before": 2**63}),
    ("notifications", {"unread": "maybe"}),
    ("notifications", {"limit": -5}),
    ("notifications", {"min_position": -1}),
]


@pytest.mark.parametrize(("what", "params"), BAD_QUERIES)
async def test_a_bad_query_is_400(
    api: httpx.AsyncClient, tokens: Tokens, what: str, params: Json
) -> None:
    cid = await start(api, tokens)
    path = f"/api/conversations/{cid}/timeline" if what == "timeline" else "/api/notifications"

    response = await api.get(path, params=params, headers=tokens.agent)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"


async def test_unknown_conversations_are_404(api: httpx.AsyncClient, tokens: Tokens) -> None:
    unknown = await api.get(f"/api/conversations/{uuid.uuid4()}/timeline", headers=tokens.agent)
    not_a_uuid = await api.get("/api/conversations/nope/timeline", headers=tokens.agent)
    no_note = await api.post(
        "/api/conversations/nope/notes", json={"content": "x"}, headers=tokens.agent
    )

    assert unknown.status_code == 404 and unknown.json()["code"] == "conversation_not_found"
    assert not_a_uuid.status_code == 404 and no_note.status_code == 404


# -- Hypothesis: never a 500 -----------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)
FIELDS = st.sampled_from(
    ["content", "mentions", "command_id", "seen_version", "up_to_position", "note_ids", "x"]
)
BODIES = st.one_of(JSON_VALUES, st.dictionaries(FIELDS, JSON_VALUES, max_size=4))
PARAMS = st.dictionaries(
    st.sampled_from(["after", "before", "limit", "unread", "min_position", "wait", "q"]),
    st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=20),
        st.sampled_from(["true", "false", "0", "1e3", ""]),
    ),
    max_size=4,
)


def fuzz(base_url: str, cid: str, tokens: Tokens, seconds: float) -> list[str]:
    """Random bodies and queries for ``seconds``; the answers that were 5xx."""
    deadline, failures = time.monotonic() + seconds, []
    with httpx.Client(base_url=base_url, timeout=30) as http:

        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            who=st.sampled_from([tokens.agent, tokens.admin, tokens.client]),
            body=BODIES,
            params=PARAMS,
        )
        def batch(who: dict[str, str], body: Any, params: dict[str, str]) -> None:
            if time.monotonic() > deadline:
                return
            params = {**params, "wait": "0"} if "min_position" in params else params
            answers = [
                http.post(f"/api/conversations/{cid}/notes", json=body, headers=who),
                http.post("/api/notifications/read", json=body, headers=who),
                http.get(f"/api/conversations/{cid}/timeline", params=params, headers=who),
                http.get("/api/notifications", params=params, headers=who),
            ]
            for answer in answers:
                if answer.status_code >= 500 and answer.json().get("code") != "not_caught_up":
                    failures.append(f"{answer.request.method} {answer.request.url}: {answer.text}")
            assert not failures, failures

        while time.monotonic() < deadline:
            batch()
    return failures


@pytest.mark.timeout(FUZZ_SECONDS + 120)
async def test_no_random_body_or_query_gets_a_server_error(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)

    failures = await asyncio.to_thread(fuzz, server_url, cid, tokens, FUZZ_SECONDS)

    assert failures == []


# -- Hypothesis: a client never sees a note --------------------------------------------

STEPS = st.lists(st.sampled_from(["client", "staff", "note"]), min_size=1, max_size=8)


def client_view_property(base_url: str, tokens: Tokens) -> int:
    """Random interleavings of client messages, staff messages and notes:
    the client's messages and conversation hold exactly the messages."""
    runs = 0
    with httpx.Client(base_url=base_url, timeout=30) as http:

        @settings(max_examples=12, deadline=None, database=None)
        @given(steps=STEPS)
        def one(steps: list[str]) -> None:
            nonlocal runs
            runs += 1
            body = {"client": {"id": "c-1", "name": "Carol"}, "channel": "web"}
            cid = http.post("/api/conversations", json=body, headers=tokens.admin).json()[
                "conversation_id"
            ]
            sent, position = [], 0
            for n, step in enumerate(steps):
                text = f"{step}-{n}-{uuid.uuid4().hex[:6]}"
                if step == "note":
                    answer = http.post(
                        f"/api/conversations/{cid}/notes",
                        json={"content": text},
                        headers=tokens.agent,
                    )
                else:
                    headers = tokens.client if step == "client" else tokens.agent
                    answer = http.post(
                        "/api/messages",
                        json={"conversation_id": cid, "content": text},
                        headers=headers,
                    )
                    sent.append(text)
                assert answer.status_code == 201, answer.text
                position = answer.json()["position"]
            at = {"min_position": position}
            messages = http.get(
                "/api/messages", params={"conversation_id": cid, **at}, headers=tokens.client
            )
            view = http.get(f"/api/conversations/{cid}", params=at, headers=tokens.client)
            assert [m["content"] for m in messages.json()["items"]] == sent
            assert view.json()["message_count"] == len(sent)
            assert view.json()["last_message_preview"] == (sent[-1] if sent else None)
            assert "note-" not in messages.text + view.text

        one()
    return runs


async def test_a_clients_view_holds_exactly_the_messages_whatever_the_notes(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    runs = await asyncio.to_thread(client_view_property, server_url, tokens)

    assert runs >= 12
