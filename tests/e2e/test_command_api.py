"""The HTTP command API over real HTTP against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens

Json = dict[str, Any]


def conversation_body(client_id: str = "c-1") -> Json:
    return {"client": {"id": client_id, "name": "Carol"}, "channel": "whatsapp"}


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    response = await api.post("/api/conversations", json=conversation_body(), headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def log_size(store: PostgresEventStore) -> int:
    return await store.head_position()


async def test_start_send_and_close_a_conversation(api: httpx.AsyncClient, tokens: Tokens) -> None:
    started = await api.post("/api/conversations", json=conversation_body(), headers=tokens.admin)
    assert started.status_code == 201
    body = started.json()
    cid = body["conversation_id"]
    assert body["events"] == ["ConversationStarted"] and body["position"] >= 1

    sent = await api.post(
        "/api/messages",
        json={"conversation_id": cid, "content": "My parcel is late"},
        headers=tokens.client,
    )
    assert sent.status_code == 201
    assert sent.json()["seq"] == 1
    assert sent.json()["position"] > body["position"]

    read = await api.post(f"/api/conversations/{cid}/mark-read", headers=tokens.admin)
    assert read.status_code == 200 and read.json()["events"] == ["MessagesRead"]

    updated = await api.put(
        f"/api/conversations/{cid}", json={"priority": "High"}, headers=tokens.admin
    )
    assert updated.json()["events"] == ["ConversationUpdated"]

    closed = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.admin
    )
    assert closed.status_code == 200

    refused = await api.post(
        "/api/messages", json={"conversation_id": cid, "content": "hello?"}, headers=tokens.client
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "conversation_closed"

    reopened = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "active"}, headers=tokens.admin
    )
    assert reopened.status_code == 200
    deleted = await api.delete(f"/api/conversations/{cid}", headers=tokens.admin)
    assert deleted.status_code == 200 and deleted.json()["events"] == ["ConversationDeleted"]


async def test_fifty_concurrent_messages_to_one_conversation_all_succeed(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)

    responses = await asyncio.gather(
        *(
            api.post(
                "/api/messages",
                json={"conversation_id": cid, "content": f"message {i}"},
                headers=tokens.client,
            )
            for i in range(50)
        )
    )

    assert [r.status_code for r in responses] == [201] * 50
    assert sorted(r.json()["seq"] for r in responses) == list(range(1, 51))


async def test_the_same_client_message_id_twice_is_one_message_and_the_same_answer(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    message = {"conversation_id": cid, "content": "only once", "client_message_id": "cm-42"}

    first = await api.post("/api/messages", json=message, headers=tokens.client)
    head = await store.head_position()
    again = await api.post("/api/messages", json=message, headers=tokens.client)

    assert first.status_code == again.status_code == 201
    a, b = first.json(), again.json()
    assert {k: v for k, v in a.items() if k != "replayed"} == {
        k: v for k, v in b.items() if k != "replayed"
    }
    assert b["replayed"] is True
    assert await store.head_position() == head


async def test_patch_mark_read_marks_up_to_a_seq(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens)
    for text in ("one", "two"):
        await api.post(
            "/api/messages", json={"conversation_id": cid, "content": text}, headers=tokens.client
        )

    read = await api.patch(
        "/api/messages/mark-read",
        json={"conversation_id": cid, "up_to_seq": 1},
        headers=tokens.admin,
    )

    assert read.status_code == 200 and read.json()["events"] == ["MessagesRead"]


# -- auth: each refused, and nothing appended -------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Bearer not-a-jwt"},
    ],
    ids=["no token", "empty bearer", "basic auth", "garbage"],
)
async def test_requests_without_a_valid_token_are_unauthenticated(
    api: httpx.AsyncClient, store: PostgresEventStore, headers: dict[str, str]
) -> None:
    head = await store.head_position()
    response = await api.post("/api/conversations", json=conversation_body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert await store.head_position() == head


async def test_forged_none_expired_tokens_are_unauthenticated(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    head = await store.head_position()
    for bad in (tokens.bad_signature, tokens.alg_none, tokens.expired):
        response = await api.post("/api/conversations", json=conversation_body(), headers=bad)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthenticated"
    assert await store.head_position() == head


async def test_a_client_cannot_write_to_another_clients_conversation(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    head = await store.head_position()

    response = await api.post(
        "/api/messages",
        json={"conversation_id": cid, "content": "let me in"},
        headers=tokens.other_client,
    )

    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert await store.head_position() == head


async def test_a_client_cannot_change_status(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    head = await store.head_position()

    response = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.client
    )

    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert await store.head_position() == head


# -- bad input: each a clear 4xx, nothing appended ---------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "hi", "message_type": "video"}, "message_type"),
        ({"content": "hi", "sender": "robot"}, "sender"),
        ({"content": "   \n\t "}, "content"),
        ({"content": ""}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"content": "nul\u0000byte"}, "content"),
        ({"content": 42}, "content"),
        ({}, "content"),
    ],
    ids=["wrong type", "wrong sender", "blank", "empty", "4001 chars", "NUL", "number", "missing"],
)
async def test_invalid_messages_are_refused_naming_the_field(
    api: httpx.AsyncClient,
    tokens: Tokens,
    store: PostgresEventStore,
    body: Json,
    field: str,
) -> None:
    cid = await start(api, tokens)
    head = await store.head_position()

    response = await api.post(
        "/api/messages", json={"conversation_id": cid, **body}, headers=tokens.client
    )

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert response.json()["field"] == field
    assert await store.head_position() == head


async def test_content_of_exactly_4000_characters_is_accepted(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    response = await api.post(
        "/api/messages", json={"conversation_id": cid, "content": "x" * 4000}, headers=tokens.client
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/conversations", {**conversation_body(), "channel": "fax"}),
        ("/api/conversations", {**conversation_body(), "priority": "urgent"}),
        ("/api/conversations", {"client": {"id": "c-1", "name": " "}, "channel": "web"}),
    ],
    ids=["channel", "priority", "blank name"],
)
async def test_invalid_conversations_are_refused(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore, path: str, body: Json
) -> None:
    head = await store.head_position()
    response = await api.post(path, json=body, headers=tokens.admin)
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert await store.head_position() == head


async def test_a_wrong_status_is_refused(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens)
    response = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "archived"}, headers=tokens.admin
    )
    assert response.status_code == 400 and response.json()["field"] == "status"


async def test_an_invalid_transition_is_a_conflict(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens)
    response = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "active"}, headers=tokens.admin
    )
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


async def test_malformed_json_is_a_clear_400(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    head = await store.head_position()
    response = await api.post(
        "/api/messages",
        content=b'{"conversation_id": ',
        headers={**tokens.client, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] in {"malformed_json", "invalid_request"}
    assert await store.head_position() == head


async def test_a_body_over_the_limit_is_refused(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    head = await store.head_position()
    response = await api.post(
        "/api/messages",
        content=b'{"content": "' + b"x" * 70_000 + b'"}',
        headers={**tokens.client, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await store.head_position() == head


async def test_an_unknown_conversation_is_not_found(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    head = await store.head_position()
    response = await api.post(
        "/api/messages",
        json={"conversation_id": str(uuid.uuid4()), "content": "anyone?"},
        headers=tokens.admin,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "conversation_not_found"
    assert await store.head_position() == head


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
async def test_a_non_uuid_id_is_a_clear_4xx(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore, method: str
) -> None:
    head = await store.head_position()
    path = "/api/conversations/not-a-uuid" + ("/status" if method == "patch" else "")
    response = await api.request(method, path, json={"status": "closed"}, headers=tokens.admin)
    assert 400 <= response.status_code < 500
    assert response.json()["code"] in {"invalid_request", "not_found"}
    assert await store.head_position() == head
    body_id = await api.post(
        "/api/messages", json={"conversation_id": "42", "content": "x"}, headers=tokens.admin
    )
    assert body_id.status_code == 400 and body_id.json()["field"] == "conversation_id"


async def test_the_openapi_schema_describes_the_command_endpoints(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert {"post"} <= set(paths["/api/messages"])
    assert {"put", "delete"} <= set(paths["/api/conversations/{conversation_id}"])
    assert "patch" in paths["/api/conversations/{conversation_id}/status"]
    send = schema["components"]["schemas"]["SendMessage"]
    assert send["properties"]["content"]["maxLength"] == 4000
    assert set(send["required"]) == {"conversation_id", "content"}
