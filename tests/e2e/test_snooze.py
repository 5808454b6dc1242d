"""Snooze over real HTTP, with the server's workers (the waker among them):
a conversation snoozed for 2 s wakes within 1 s of its ``until`` (measured
from the log), the client's next message wakes it at once, the snooze's
refusals are clear, ``pending`` is settable and both ``pending`` and
``snoozed`` filter the inbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Tokens

Json = dict[str, Any]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def start(api: httpx.AsyncClient, tokens: Tokens, client_id: str = "c-1") -> str:
    body = {"client": {"id": client_id, "name": "Carol"}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def snooze(api: httpx.AsyncClient, tokens: Tokens, cid: str, until: str) -> httpx.Response:
    return await api.post(
        f"/api/conversations/{cid}/snooze", json={"until": until}, headers=tokens.admin
    )


async def row(api: httpx.AsyncClient, cid: str, headers: dict[str, str], at: int = 0) -> Json:
    response = await api.get(
        f"/api/conversations/{cid}", params={"min_position": at}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def history(api: httpx.AsyncClient, tokens: Tokens, cid: str) -> list[Json]:
    response = await api.get(
        f"/api/conversations/{cid}/history", params={"limit": 100}, headers=tokens.admin
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def woken(api: httpx.AsyncClient, tokens: Tokens, cid: str, timeout: float = 10) -> Json:
    """The conversation's ConversationWoke, once the log has it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in await history(api, tokens, cid) if e["type"] == "ConversationWoke"]
        if found:
            [woke] = found
            return woke
        assert time.monotonic() < deadline, f"{cid} not woken within {timeout:g} s"
        await asyncio.sleep(0.05)


async def test_a_conversation_snoozed_for_two_seconds_wakes_within_a_second_of_until(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    until = datetime.now(UTC) + timedelta(seconds=2)
    response = await snooze(api, tokens, cid, until.isoformat())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["events"] == ["ConversationSnoozed"]
    snoozed = await row(api, cid, tokens.admin, result["position"])
    assert (snoozed["status"], moment(snoozed["snoozed_until"])) == ("snoozed", until)
    # A client sees that it is snoozed, not the staff's until.
    assert (await row(api, cid, tokens.client, result["position"]))["snoozed_until"] is None

    woke = await woken(api, tokens, cid)
    late = (moment(woke["recorded_at"]) - until).total_seconds()
    assert 0 <= late <= 1.0, late
    assert woke["data"]["reason"] == "timer"
    assert woke["metadata"]["actor_id"] == "waker"
    after = await row(api, cid, tokens.admin, woke["global_position"])
    assert (after["status"], after["snoozed_until"]) == ("active", None)


async def test_the_clients_next_message_wakes_it_at_once(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    assert (await snooze(api, tokens, cid, later)).status_code == 200
    # A staff message leaves it snoozed...
    staff = {"conversation_id": cid, "content": "we are on it"}
    response = await api.post("/api/messages", json=staff, headers=tokens.agent)
    assert response.json()["events"] == ["MessageSent"]
    assert (await row(api, cid, tokens.admin, response.json()["position"]))["status"] == "snoozed"
    # ...the client's wakes it, before the message itself.
    client = {"conversation_id": cid, "content": "any news?"}
    response = await api.post("/api/messages", json=client, headers=tokens.client)
    assert response.status_code == 201, response.text
    assert response.json()["events"] == ["ConversationWoke", "MessageSent"]
    after = await row(api, cid, tokens.admin, response.json()["position"])
    assert (after["status"], after["snoozed_until"], after["last_message_preview"]) == (
        "active",
        None,
        "any news?",
    )
    [woke] = [e for e in await history(api, tokens, cid) if e["type"] == "ConversationWoke"]
    assert woke["data"]["reason"] == "client_message"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"until": "2031-01-01T10:00:00"}, 422, "invalid_command", "until"),  # no offset
        ({"until": "2020-01-01T10:00:00Z"}, 422, "invalid_command", "until"),  # past
        ({"until": "+400d"}, 422, "invalid_command", "until"),  # 400 days ahead
        ({"until": "tomorrow"}, 400, "invalid_request", None),
        ({"until": "+1h", "reason": "lunch"}, 400, "invalid_request", None),  # unknown field
        ({}, 400, "invalid_request", None),
        ({"until": "+1h", "seen_version": -1}, 400, "invalid_request", None),
    ],
    ids=["naive", "past", "too-far", "not-a-time", "unknown-field", "no-until", "bad-version"],
)
async def test_a_bad_snooze_is_a_clear_4xx(
    api: httpx.AsyncClient,
    tokens: Tokens,
    body: Json,
    status: int,
    code: str,
    field: str | None,
) -> None:
    cid = await start(api, tokens)
    if str(body.get("until", "")).startswith("+"):
        amount = int(body["until"][1:-1])
        delta = timedelta(days=amount) if body["until"].endswith("d") else timedelta(hours=amount)
        body = {**body, "until": (datetime.now(UTC) + delta).isoformat()}
    response = await api.post(f"/api/conversations/{cid}/snooze", json=body, headers=tokens.admin)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] == code
    if field:
        assert error["field"] == field


async def test_who_and_what_may_be_snoozed(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    # Staff only: the conversation's own client may not.
    response = await api.post(
        f"/api/conversations/{cid}/snooze", json={"until": until}, headers=tokens.client
    )
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    # Only a snooze, with its until, leads to snoozed.
    response = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "snoozed"}, headers=tokens.admin
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_command")
    assert "/snooze" in response.json()["message"]
    # A closed conversation is reopened first.
    closed = {"status": "closed"}
    response = await api.patch(
        f"/api/conversations/{cid}/status", json=closed, headers=tokens.admin
    )
    assert response.status_code == 200, response.text
    response = await snooze(api, tokens, cid, until)
    assert (response.status_code, response.json()["code"]) == (409, "conversation_closed")
    missing = await snooze(api, tokens, str(uuid.uuid4()), until)
    assert (missing.status_code, missing.json()["code"]) == (404, "conversation_not_found")


async def test_snoozing_again_with_the_same_command_id_is_a_replay(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    body = {"until": (datetime.now(UTC) + timedelta(hours=1)).isoformat(), "command_id": "s-1"}
    first = await api.post(f"/api/conversations/{cid}/snooze", json=body, headers=tokens.admin)
    again = await api.post(f"/api/conversations/{cid}/snooze", json=body, headers=tokens.admin)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {**first.json(), "replayed": True}


async def test_pending_and_snoozed_are_settable_and_filter_the_inbox(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = f"snz-{uuid.uuid4().hex[:8]}"  # this test's own conversations
    active, pending, snoozed = [await start(api, tokens, client_id) for _ in range(3)]
    response = await api.patch(
        f"/api/conversations/{pending}/status", json={"status": "pending"}, headers=tokens.admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"] == ["ConversationStatusChanged"]
    until = datetime.now(UTC) + timedelta(hours=5)
    response = await snooze(api, tokens, snoozed, until.isoformat())
    assert response.status_code == 200, response.text
    at = response.json()["position"]

    async def listed(status: str | None) -> list[Json]:
        params: Json = {"client_id": client_id, "min_position": at}
        if status:
            params["status"] = status
        response = await api.get("/api/conversations", params=params, headers=tokens.admin)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    assert [r["conversation_id"] for r in await listed("pending")] == [pending]
    [row_] = await listed("snoozed")
    assert row_["conversation_id"] == snoozed and moment(row_["snoozed_until"]) == until
    assert [r["conversation_id"] for r in await listed("active")] == [active]
    assert {r["conversation_id"] for r in await listed(None)} == {active, pending, snoozed}
    assert all(r["snoozed_until"] is None for r in await listed(None) if r["status"] != "snoozed")
    # Pending back to active, and a snoozed one to pending: both along the table.
    for cid, to in ((pending, "active"), (snoozed, "pending")):
        response = await api.patch(
            f"/api/conversations/{cid}/status", json={"status": to}, headers=tokens.admin
        )
        assert response.status_code == 200, response.text
        at = response.json()["position"]
    assert [r["conversation_id"] for r in await listed("pending")] == [snoozed]
    assert await listed("snoozed") == []
    bad = await api.get("/api/conversations", params={"status": "asleep"}, headers=tokens.admin)
    assert bad.status_code == 400
