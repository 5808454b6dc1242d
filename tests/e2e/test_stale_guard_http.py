"""The stale-action guard over real HTTP: a staff command carrying
``seen_version`` is refused 409 ``conversation_moved`` when the conversation
moved on since (a message from the client or someone else, a status or
assignee change by someone else), with the events the sender missed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.e2e.conftest import Tokens

Json = dict[str, Any]


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    body = {"client": {"id": "c-1", "name": "Carol"}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def send(
    api: httpx.AsyncClient, headers: dict[str, str], cid: str, content: str, **extra: Any
) -> httpx.Response:
    body = {"conversation_id": cid, "content": content, **extra}
    return await api.post("/api/messages", json=body, headers=headers)


async def test_two_staff_answering_the_same_message_one_is_refused_with_the_others_reply(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    question = await send(api, tokens.client, cid, "Where is my parcel?")
    seen = question.json()["version"]

    # Alice and Bob both saw the question and answer it at once.
    alice, bob = await asyncio.gather(
        send(api, tokens.admin, cid, "Alice here, checking", seen_version=seen),
        send(api, tokens.agent, cid, "Bob here, checking", seen_version=seen),
    )

    assert sorted([alice.status_code, bob.status_code]) == [201, 409]
    accepted, refused = (alice, bob) if alice.status_code == 201 else (bob, alice)
    error = refused.json()
    assert error["code"] == "conversation_moved" and error["field"] == "seen_version"
    assert error["details"]["version"] == accepted.json()["version"]
    [missed] = error["details"]["missed"]
    assert missed["data"]["type"] == "MessageSent"
    assert missed["data"]["message_id"] == accepted.json()["message_id"]
    assert missed["stream_position"] == seen + 1


async def test_without_seen_version_both_answers_are_accepted(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    await send(api, tokens.client, cid, "Where is my parcel?")

    alice, bob = await asyncio.gather(
        send(api, tokens.admin, cid, "Alice here"),
        send(api, tokens.agent, cid, "Bob here"),
    )

    assert (alice.status_code, bob.status_code) == (201, 201)


async def test_a_client_message_after_seen_version_is_a_move(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    first = await send(api, tokens.client, cid, "Hello")
    seen = first.json()["version"]
    await send(api, tokens.client, cid, "Actually, never mind: it arrived")

    reply = await send(api, tokens.agent, cid, "Let me look into it", seen_version=seen)

    assert reply.status_code == 409 and reply.json()["code"] == "conversation_moved"
    [missed] = reply.json()["details"]["missed"]
    assert missed["data"]["content"] == "Actually, never mind: it arrived"
    assert missed["data"]["sender"] == "client"


async def test_the_senders_own_message_after_seen_version_is_not_a_move(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    question = await send(api, tokens.client, cid, "Hello")
    seen = question.json()["version"]
    await send(api, tokens.agent, cid, "One moment", seen_version=seen)

    follow_up = await send(api, tokens.agent, cid, "Found it", seen_version=seen)

    assert follow_up.status_code == 201, follow_up.text


async def test_a_status_change_by_someone_else_is_a_move_and_reading_is_not(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    question = await send(api, tokens.client, cid, "Hello")
    seen = question.json()["version"]
    # Reading and re-prioritising do not move the conversation...
    await api.post(f"/api/conversations/{cid}/mark-read", headers=tokens.admin)
    await api.put(f"/api/conversations/{cid}", json={"priority": "High"}, headers=tokens.admin)
    still = await send(api, tokens.agent, cid, "On it", seen_version=seen)
    # ...a status change does.
    await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "pending"}, headers=tokens.admin
    )

    moved = await api.patch(
        f"/api/conversations/{cid}/status",
        json={"status": "closed", "seen_version": still.json()["version"]},
        headers=tokens.agent,
    )

    assert still.status_code == 201, still.text
    assert moved.status_code == 409 and moved.json()["code"] == "conversation_moved"
    [missed] = moved.json()["details"]["missed"]
    assert missed["data"]["type"] == "ConversationStatusChanged"


async def test_a_seen_version_ahead_of_the_conversation_is_invalid(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)

    response = await send(api, tokens.agent, cid, "Hi", seen_version=99)

    assert response.status_code == 422 and response.json()["field"] == "seen_version"
