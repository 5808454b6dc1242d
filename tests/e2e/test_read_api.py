"""The read API over real HTTP, fed by the relay and projections through NATS."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from read_api import inbox_queries
from tests.e2e.conftest import Tokens

Json = dict[str, Any]


async def start(
    api: httpx.AsyncClient, tokens: Tokens, name: str = "Carol", cid: str = "c-1"
) -> Json:
    response = await api.post(
        "/api/conversations",
        json={"client": {"id": cid, "name": name}, "channel": "email"},
        headers=tokens.admin,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def send(api: httpx.AsyncClient, headers: dict[str, str], cid: str, text: str) -> Json:
    response = await api.post(
        "/api/messages", json={"conversation_id": cid, "content": text}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_read_your_writes_every_time(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = (await start(api, tokens))["conversation_id"]
    for i in range(200):
        sent = await send(api, tokens.client, cid, f"message {i}")
        page = await api.get(
            "/api/messages",
            params={"conversation_id": cid, "min_position": sent["position"], "limit": 1},
            headers=tokens.admin,
        )
        assert page.status_code == 200, page.text
        assert page.json()["items"][-1]["message_id"] == sent["message_id"]


async def test_rows_carry_their_stream_version(api: httpx.AsyncClient, tokens: Tokens) -> None:
    name = f"Versioned {uuid.uuid4().hex[:8]}"
    started = await start(api, tokens, name=name)
    cid = started["conversation_id"]
    assert started["version"] == 1
    for text in ("one", "two"):
        sent = await send(api, tokens.client, cid, text)
    read = await api.post(f"/api/conversations/{cid}/mark-read", headers=tokens.admin)
    assert read.json()["version"] == sent["version"] + 1 == 4
    params = {"min_position": read.json()["position"]}
    one = (await api.get(f"/api/conversations/{cid}", params=params, headers=tokens.admin)).json()
    assert (one["version"], one["position"]) == (4, read.json()["position"])
    listed = await api.get("/api/conversations", params={**params, "q": name}, headers=tokens.admin)
    assert [(c["conversation_id"], c["version"]) for c in listed.json()["items"]] == [(cid, 4)]
    history = await api.get(f"/api/conversations/{cid}/history", headers=tokens.admin)
    assert history.json()["items"][-1]["stream_position"] == one["version"]


async def test_the_inbox_shows_unread_counts_and_marking_read_drops_them(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = (await start(api, tokens, name="Unread Ursula"))["conversation_id"]
    for text in ("one", "two", "three"):
        sent = await send(api, tokens.client, cid, text)
    one = await api.get(
        f"/api/conversations/{cid}",
        params={"min_position": sent["position"]},
        headers=tokens.admin,
    )
    assert one.json()["unread_for_staff"] == 3
    assert one.json()["last_message_preview"] == "three"

    read = await api.post(
        f"/api/conversations/{cid}/mark-read", json={"up_to_seq": 2}, headers=tokens.admin
    )
    after = await api.get(
        f"/api/conversations/{cid}",
        params={"min_position": read.json()["position"]},
        headers=tokens.admin,
    )
    assert after.json()["unread_for_staff"] == 1
    messages = await api.get(
        "/api/messages",
        params={"conversation_id": cid, "min_position": read.json()["position"]},
        headers=tokens.admin,
    )
    read_flags = [m["read_by_staff_at"] is not None for m in messages.json()["items"]]
    assert read_flags == [True, True, False]


@pytest.fixture(params=["few", "common"])
def name_match(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The inbox finds a name (``q``) one of two ways: the few conversations it
    matches, by their ids; or, for a common one, walking the sort's index (here
    every name counts as common)."""
    if request.param == "common":
        monkeypatch.setattr(inbox_queries, "named_few", lambda page, rows: 0)


async def test_the_inbox_filters_and_sorts_by_last_message(
    api: httpx.AsyncClient, tokens: Tokens, name_match: None
) -> None:
    tag = uuid.uuid4().hex[:8]
    first = await start(api, tokens, name=f"Zed {tag}")
    second = await start(api, tokens, name=f"Zoe {tag}")
    sent = await send(api, tokens.admin, first["conversation_id"], "bump")
    closed = await api.patch(
        f"/api/conversations/{second['conversation_id']}/status",
        json={"status": "pending"},
        headers=tokens.admin,
    )
    position = max(sent["position"], closed.json()["position"])

    everyone = await api.get(
        "/api/conversations",
        params={"q": tag.upper(), "min_position": position, "include_total": "true"},
        headers=tokens.admin,
    )
    body = everyone.json()
    # Zed's message is newer than Zoe's start; a status change moves nothing.
    assert [c["client_name"] for c in body["items"]] == [f"Zed {tag}", f"Zoe {tag}"]
    assert body["total"] == 2
    pending = await api.get(
        "/api/conversations", params={"q": tag, "status": "pending"}, headers=tokens.admin
    )
    assert [c["client_name"] for c in pending.json()["items"]] == [f"Zoe {tag}"]


async def test_deleted_conversations_are_hidden_unless_asked_for(
    api: httpx.AsyncClient, tokens: Tokens, name_match: None
) -> None:
    tag = uuid.uuid4().hex[:8]
    cid = (await start(api, tokens, name=f"Gone {tag}"))["conversation_id"]
    deleted = await api.delete(f"/api/conversations/{cid}", headers=tokens.admin)
    params = {"q": tag, "min_position": deleted.json()["position"]}
    hidden = await api.get("/api/conversations", params=params, headers=tokens.admin)
    shown = await api.get(
        "/api/conversations", params={**params, "include_deleted": "true"}, headers=tokens.admin
    )
    assert hidden.json()["items"] == []
    assert [c["deleted"] for c in shown.json()["items"]] == [True]


async def test_walking_pages_while_messages_arrive_never_skips_or_repeats(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = (await start(api, tokens))["conversation_id"]
    for i in range(45):
        last = await send(api, tokens.client, cid, f"old {i}")
    seen: list[int] = []
    before: int | None = None
    params: dict[str, Any] = {"conversation_id": cid, "limit": 10, "min_position": last["position"]}
    while True:
        # New messages keep arriving while we page backwards.
        await send(api, tokens.admin, cid, "new")
        page = await api.get(
            "/api/messages", params={**params, **({"before": before} if before else {})},
            headers=tokens.admin,
        )  # fmt: skip
        body = page.json()
        seen.extend(m["seq"] for m in reversed(body["items"]))
        before = body["next_before"]
        if before is None:
            break
    assert seen[-45:] == list(range(45, 0, -1))
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)


async def test_inbox_pages_cover_every_conversation_once(
    api: httpx.AsyncClient, tokens: Tokens, name_match: None
) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [await start(api, tokens, name=f"Page {tag} {i}") for i in range(7)]
    position = max(m["position"] for m in made)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": tag, "limit": 3, "min_position": position}
        page = await api.get(
            "/api/conversations", params={**params, **({"cursor": cursor} if cursor else {})},
            headers=tokens.admin,
        )  # fmt: skip
        seen += [c["conversation_id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(m["conversation_id"] for m in made)


async def test_clients_read_only_their_own_conversations(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    started = await start(api, tokens)
    cid = started["conversation_id"]
    params = {"min_position": started["position"]}
    own = await api.get(f"/api/conversations/{cid}", params=params, headers=tokens.client)
    other = await api.get(f"/api/conversations/{cid}", params=params, headers=tokens.other_client)
    inbox = await api.get("/api/conversations", headers=tokens.client)
    messages = await api.get(
        "/api/messages", params={"conversation_id": cid}, headers=tokens.other_client
    )
    assert own.status_code == 200
    assert other.status_code == 403 and other.json()["code"] == "forbidden"
    assert inbox.status_code == 403
    assert messages.status_code == 403
    assert (await api.get("/api/conversations")).status_code == 401


async def test_waiting_for_a_position_never_reached_answers_503_with_the_reached_one(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await api.get(
        "/api/conversations",
        params={"min_position": 10**12, "wait": 0.2},
        headers=tokens.admin,
    )
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_caught_up"
    assert 0 < body["details"]["reached_position"] < 10**12


async def test_bad_queries_are_clear_4xx(api: httpx.AsyncClient, tokens: Tokens) -> None:
    bad: list[dict[str, object]] = [
        {"limit": 0},
        {"limit": 101},
        {"status": "archived"},
        {"cursor": "%%%"},
        {"sort": "updated"},
        {"assignee": ""},
        {"team": ""},
    ]
    for params in bad:
        response = await api.get("/api/conversations", params=params, headers=tokens.admin)
        assert response.status_code == 400, (params, response.text)
    unknown = await api.get(f"/api/conversations/{uuid.uuid4()}", headers=tokens.admin)
    assert unknown.status_code == 404


async def test_concurrent_reads_and_writes_agree(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = (await start(api, tokens))["conversation_id"]
    sent = await asyncio.gather(*(send(api, tokens.client, cid, f"c{i}") for i in range(20)))
    position = max(s["position"] for s in sent)
    page = await api.get(
        "/api/messages",
        params={"conversation_id": cid, "min_position": position},
        headers=tokens.admin,
    )
    assert [m["seq"] for m in page.json()["items"]] == list(range(1, 21))
    one = await api.get(
        f"/api/conversations/{cid}", params={"min_position": position}, headers=tokens.admin
    )
    assert one.json()["message_count"] == 20 == one.json()["unread_for_staff"]


async def test_ready_reports_every_worker(api: httpx.AsyncClient, tokens: Tokens) -> None:
    started = await start(api, tokens)
    await api.get(
        f"/api/conversations/{started['conversation_id']}",
        params={"min_position": started["position"]},
        headers=tokens.admin,
    )
    ready = await api.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "postgres": "ok",
        "nats": "ok",
        "relay": "ok",
        "inbox": "ok",
        "timeline": "ok",
    }
