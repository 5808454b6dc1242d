"""Private notes, mention notifications and the staff timeline over real
HTTP: what staff write and read, and that a client never reaches a note."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens
from tests.e2e.test_staff_api import fresh, staff_token

Json = dict[str, Any]
Headers = dict[str, str]


async def agent(api: httpx.AsyncClient, name: str) -> tuple[str, Headers]:
    """An agent who signed in, named ``name``, in the directory the notes look at."""
    agent_id = fresh("agent")
    headers = staff_token(agent_id, name=name)
    signed_in = await api.put(
        "/api/agents/me/availability", json={"availability": "online"}, headers=headers
    )
    assert signed_in.status_code == 200, signed_in.text
    listed = await api.get(
        "/api/agents", params={"min_position": signed_in.json()["position"]}, headers=headers
    )
    assert listed.status_code == 200, listed.text
    return agent_id, headers


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    body = {"client": {"id": "c-1", "name": "Carol"}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def send(api: httpx.AsyncClient, cid: str, content: str, headers: Headers) -> Json:
    body = {"conversation_id": cid, "content": content}
    response = await api.post("/api/messages", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: Json = response.json()
    return result


async def add_note(api: httpx.AsyncClient, cid: str, headers: Headers, **body: Any) -> Json:
    response = await api.post(f"/api/conversations/{cid}/notes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: Json = response.json()
    return result


async def notifications_of(
    api: httpx.AsyncClient, headers: Headers, at: int, **params: Any
) -> Json:
    response = await api.get(
        "/api/notifications", params={"min_position": at, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


async def timeline_of(api: httpx.AsyncClient, cid: str, headers: Headers, at: int) -> list[Json]:
    response = await api.get(
        f"/api/conversations/{cid}/timeline",
        params={"min_position": at, "limit": 100},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


# -- notes and notifications -----------------------------------------------------------


async def test_a_note_notifies_the_agents_it_mentions_until_they_read_it(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    ann, ann_headers = await agent(api, "Ann Lee")
    ben, ben_headers = await agent(api, f"Ben {ann[-8:]}")  # a name no other test has
    cy, cy_headers = await agent(api, "Cy")
    _, dan_headers = await agent(api, "Dan")
    cid = await start(api, tokens)

    # Ben by name (written without its space), Cy explicitly.
    written = await add_note(
        api, cid, ann_headers, content=f"@Ben{ann[-8:]} please check the refund", mentions=[cy]
    )

    assert written["events"] == ["NoteAdded"] and written["mentions"] == [cy, ben]
    at = written["position"]
    bens = await notifications_of(api, ben_headers, at, unread="true")
    (item,) = bens["items"]
    assert bens["unread_count"] == 1
    assert (item["note_id"], item["conversation_id"], item["author_id"]) == (
        written["note_id"], cid, ann,
    )  # fmt: skip
    assert item["author_name"] == "Ann Lee" and item["read"] is False
    assert item["excerpt"] == f"@Ben{ann[-8:]} please check the refund"
    # Nobody else hears of it: not the author, not another agent.
    for headers in (ann_headers, dan_headers):
        assert (await notifications_of(api, headers, at))["items"] == []

    # Ben reads it by id, Cy up to its position.
    by_id = await api.post(
        "/api/notifications/read", json={"note_ids": [written["note_id"]]}, headers=ben_headers
    )
    by_position = await api.post(
        "/api/notifications/read", json={"up_to_position": at}, headers=cy_headers
    )

    for response, headers in ((by_id, ben_headers), (by_position, cy_headers)):
        assert response.status_code == 200, response.text
        assert response.json()["events"] == ["NotificationsRead"]
        page = await notifications_of(api, headers, response.json()["position"])
        assert [n["read"] for n in page["items"]] == [True] and page["unread_count"] == 0
        unread = await notifications_of(api, headers, response.json()["position"], unread="true")
        assert unread["items"] == []
    again = await api.post(
        "/api/notifications/read", json={"up_to_position": at}, headers=cy_headers
    )
    assert again.status_code == 200 and again.json()["events"] == []


async def test_an_unknown_agent_named_explicitly_is_refused_and_nothing_is_written(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)

    response = await api.post(
        f"/api/conversations/{cid}/notes",
        json={"content": "hi", "mentions": ["no-such-agent"]},
        headers=tokens.agent,
    )

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "agent_not_found"
    assert response.json()["field"] == "mentions"
    assert await store.stream_version(f"conversation-{cid}") == 1
    # An @name that names nobody is plain text.
    plain = await add_note(api, cid, tokens.agent, content="ask @no-such-agent")
    assert plain["mentions"] == []


async def test_a_retried_note_is_written_once(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens)
    body = {"content": "once", "command_id": f"note-{uuid.uuid4()}"}

    first = await add_note(api, cid, tokens.agent, **body)
    retry = await add_note(api, cid, tokens.agent, **body)

    assert retry["replayed"] is True
    assert (retry["note_id"], retry["position"]) == (first["note_id"], first["position"])
    items = await timeline_of(api, cid, tokens.agent, first["position"])
    assert [i["kind"] for i in items] == ["note"]


async def test_notes_are_allowed_on_a_closed_conversation_not_on_a_deleted_one(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    closed = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.admin
    )
    assert closed.status_code == 200, closed.text
    await add_note(api, cid, tokens.agent, content="closed: a duplicate")

    other = await start(api, tokens)
    deleted = await api.delete(f"/api/conversations/{other}", headers=tokens.admin)
    assert deleted.status_code == 200, deleted.text
    refused = await api.post(
        f"/api/conversations/{other}/notes", json={"content": "late"}, headers=tokens.agent
    )
    assert refused.status_code == 409 and refused.json()["code"] == "conversation_deleted"
    unknown = await api.post(
        f"/api/conversations/{uuid.uuid4()}/notes", json={"content": "x"}, headers=tokens.agent
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "conversation_not_found"


# -- the staff timeline ----------------------------------------------------------------


async def test_the_timeline_holds_messages_notes_and_system_entries_in_log_order(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    ann, ann_headers = await agent(api, "Ann Timeline")
    cid = await start(api, tokens)
    await send(api, cid, "my order is late", tokens.client)
    await add_note(api, cid, ann_headers, content="VIP customer")
    pending = await api.patch(
        f"/api/conversations/{cid}/status",
        json={"status": "pending", "reason": "waiting on courier"},
        headers=ann_headers,
    )
    assert pending.status_code == 200, pending.text
    assigned = await api.post(
        f"/api/conversations/{cid}/assignment", json={"agent_id": ann}, headers=tokens.admin
    )
    assert assigned.status_code == 200, assigned.text
    await send(api, cid, "it ships today", ann_headers)
    last = await add_note(api, cid, ann_headers, content="told them")

    items = await timeline_of(api, cid, tokens.admin, last["position"])

    assert [(i["kind"], i.get("event_type") or i.get("content")) for i in items] == [
        ("message", "my order is late"),
        ("note", "VIP customer"),
        ("system", "ConversationStatusChanged"),
        ("system", "ConversationAssigned"),
        ("message", "it ships today"),
        ("note", "told them"),
    ]
    positions = [i["position"] for i in items]
    assert positions == sorted(positions)
    note, status, assignment, reply = items[1:5]
    assert (note["author_id"], note["author_name"]) == (ann, "Ann Timeline")
    assert (status["by"], status["by_name"]) == (ann, "Ann Timeline")
    assert status["details"] == {"from": "active", "to": "pending", "reason": "waiting on courier"}
    assert (assignment["by"], assignment["details"]["agent_id"]) == ("alice", ann)
    assert (reply["sender"], reply["sender_name"]) == ("admin", "Ann Timeline")


async def test_the_timeline_pages_forward_by_position(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    for n in range(3):
        await send(api, cid, f"message {n}", tokens.client)
        last = await add_note(api, cid, tokens.agent, content=f"note {n}")
    everything = await timeline_of(api, cid, tokens.agent, last["position"])

    pages, after = [], 0
    while after is not None:
        response = await api.get(
            f"/api/conversations/{cid}/timeline",
            params={"after": after, "limit": 4},
            headers=tokens.agent,
        )
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        after = response.json()["next_after"]

    assert [len(p) for p in pages] == [4, 2]
    assert [i for p in pages for i in p] == everything


# -- a client never reaches a note -----------------------------------------------------


STAFF_ONLY = [
    ("POST", "/api/conversations/{cid}/notes", {"content": "hello"}),
    ("GET", "/api/conversations/{cid}/timeline", None),
    ("GET", "/api/notifications", None),
    ("POST", "/api/notifications/read", {"up_to_position": 1}),
    ("POST", "/api/notifications/read", {"note_ids": [str(uuid.uuid4())]}),
]


async def test_clients_are_refused_every_note_endpoint(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)  # client c-1's own conversation
    for headers in (tokens.client, tokens.other_client):
        for method, path, body in STAFF_ONLY:
            response = await api.request(method, path.format(cid=cid), json=body, headers=headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "forbidden"
        # Even naming an agent that does not exist says nothing but "forbidden".
        named = await api.post(
            f"/api/conversations/{cid}/notes",
            json={"content": "x", "mentions": ["ghost"]},
            headers=headers,
        )
        assert named.status_code == 403


async def test_a_clients_messages_and_conversation_never_hold_a_note(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    await send(api, cid, "hello", tokens.client)
    await send(api, cid, "hi, how can I help?", tokens.agent)
    secret = f"secret-{uuid.uuid4().hex}"
    note = await add_note(api, cid, tokens.agent, content=f"{secret} do not refund")
    at = {"min_position": note["position"]}

    messages = await api.get(
        "/api/messages", params={"conversation_id": cid, **at}, headers=tokens.client
    )
    conversation = await api.get(f"/api/conversations/{cid}", params=at, headers=tokens.client)
    staff_messages = await api.get(
        "/api/messages", params={"conversation_id": cid, **at}, headers=tokens.agent
    )

    for response in (messages, conversation, staff_messages):
        assert response.status_code == 200, response.text
        assert secret not in response.text
    assert [m["content"] for m in messages.json()["items"]] == ["hello", "hi, how can I help?"]
    view = conversation.json()
    assert view["message_count"] == 2 and view["last_message_preview"] == "hi, how can I help?"
    assert view["my_unread"] == 1  # the staff reply; a note is nobody's unread
