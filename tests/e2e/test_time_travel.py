"""Audit: a conversation's history and its state at any past moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Tokens

PARLEY = str(Path(sys.executable).with_name("parley"))


async def scripted(api: httpx.AsyncClient, tokens: Tokens) -> tuple[str, list[dict[str, Any]]]:
    """Start, two client messages, a staff reply, a read, a close: each result."""
    started = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    cid = started.json()["conversation_id"]
    results = [started.json()]
    for text, who in (("one", tokens.client), ("two", tokens.client), ("reply", tokens.admin)):
        sent = await api.post(
            "/api/messages", json={"conversation_id": cid, "content": text}, headers=who
        )
        results.append(sent.json())
    read = await api.post(f"/api/conversations/{cid}/mark-read", headers=tokens.admin)
    closed = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.admin
    )
    return cid, [*results, read.json(), closed.json()]


async def test_the_state_at_each_past_position(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid, results = await scripted(api, tokens)

    async def as_of(position: int) -> dict[str, Any]:
        response = await api.get(
            f"/api/conversations/{cid}", params={"as_of": position}, headers=tokens.admin
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    after_two = await as_of(results[2]["position"])
    assert [m["content"] for m in after_two["messages"]] == ["one", "two"]
    assert (after_two["status"], after_two["unread_for_staff"]) == ("active", 2)
    after_read = await as_of(results[4]["position"])
    assert (after_read["unread_for_staff"], after_read["unread_for_client"]) == (0, 1)
    now = await as_of(results[5]["position"])
    assert now["status"] == "closed" and len(now["messages"]) == 3
    # By time, too: the moment of the first message.
    first = await api.get(
        f"/api/conversations/{cid}/history", params={"limit": 2}, headers=tokens.admin
    )
    moment = first.json()["items"][1]["recorded_at"]
    by_time = await api.get(
        f"/api/conversations/{cid}", params={"as_of": moment}, headers=tokens.admin
    )
    assert [m["content"] for m in by_time.json()["messages"]] == ["one"]


async def test_history_pages_through_every_event(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid, results = await scripted(api, tokens)
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await api.get(
            f"/api/conversations/{cid}/history",
            params={"after": after, "limit": 4},
            headers=tokens.admin,
        )
        seen += page.json()["items"]
        after = page.json()["next_after"]
        if after is None:
            break
    assert [e["type"] for e in seen] == [
        "ConversationStarted",
        "MessageSent",
        "MessageSent",
        "MessageSent",
        "MessagesRead",
        "ConversationStatusChanged",
    ]
    assert [e["global_position"] for e in seen] == [r["position"] for r in results]
    assert seen[1]["metadata"]["actor_id"] == "carol"


async def test_time_travel_is_for_staff_and_bad_moments_are_clear(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid, _ = await scripted(api, tokens)
    for params in ({"as_of": "1"}, {}):
        path = f"/api/conversations/{cid}" + ("/history" if not params else "")
        response = await api.get(path, params=params, headers=tokens.client)
        assert response.status_code == 403
    bad = await api.get(
        f"/api/conversations/{cid}", params={"as_of": "yesterday"}, headers=tokens.admin
    )
    assert bad.status_code == 400 and bad.json()["field"] == "as_of"


async def test_the_replay_command_prints_the_past_state(
    api: httpx.AsyncClient, tokens: Tokens, database_url: str
) -> None:
    cid, results = await scripted(api, tokens)
    done = subprocess.run(  # noqa: ASYNC221 - a short CLI run
        [PARLEY, "replay", cid, "--as-of", str(results[3]["position"]), "--json"],
        env={**os.environ, "PARLEY_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert [m["content"] for m in state["messages"]] == ["one", "two", "reply"]
    assert (state["unread_for_staff"], state["unread_for_client"]) == (2, 1)
