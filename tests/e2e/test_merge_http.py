"""Merging over real HTTP (``POST /api/conversations/{id}/merge``) against
the running server and its workers: the merge, its refusals, a retry,
sends racing the merge on both conversations (checked against the events
table itself), a merge cut short between its steps, and who may see what."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from commands.handler import CommandHandler
from commands.model import Actor, MergeConversation, MergeTarget, Role
from events.catalogue import Status
from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens

Json = dict[str, Any]
ALICE = Actor(id="alice", role=Role.ADMIN)  # as tokens.admin


async def start(api: httpx.AsyncClient, tokens: Tokens, client_id: str = "c-1") -> str:
    body = {"client": {"id": client_id, "name": "Carol"}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def send(
    api: httpx.AsyncClient, cid: str, headers: dict[str, str], content: str
) -> httpx.Response:
    body = {"conversation_id": cid, "content": content}
    return await api.post("/api/messages", json=body, headers=headers)


async def merge(
    api: httpx.AsyncClient, source: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await api.post(f"/api/conversations/{source}/merge", json=body, headers=headers)


async def get(api: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Json:
    response = await api.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def timeline(
    api: httpx.AsyncClient, cid: str, headers: dict[str, str], at: int
) -> list[Json]:
    """Every message of ``cid``, oldest first, once the read models reach ``at``."""
    items: list[Json] = []
    params: Json = {"conversation_id": cid, "limit": 100, "min_position": at, "wait": 10}
    while True:
        page = await get(api, "/api/messages", headers, **params)
        items[:0] = page["items"]
        if page["next_before"] is None:
            return items
        params["before"] = page["next_before"]


async def test_a_merge_over_http(api: httpx.AsyncClient, tokens: Tokens) -> None:
    target, source = await start(api, tokens), await start(api, tokens)
    for cid, who, content in (
        (target, tokens.client, "t1"),
        (source, tokens.client, "s1"),
        (source, tokens.admin, "s2"),
        (source, tokens.client, "s3"),
    ):
        assert (await send(api, cid, who, content)).status_code == 201
    read = await api.post(
        f"/api/conversations/{source}/mark-read", json={"up_to_seq": 1}, headers=tokens.admin
    )
    before = read.json()["position"]

    merged = await merge(api, source, tokens.agent, into=target)
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["source"]["events"] == ["ConversationMerged"]
    assert answer["target"]["conversation_id"] == target
    assert answer["target"]["message_count"] == 3
    at = answer["position"]

    # The source: closed, pointing at the target, no unread; still readable.
    view = await get(api, f"/api/conversations/{source}", tokens.admin, min_position=at)
    assert (view["status"], view["merged_into"]) == ("closed", target)
    assert (view["unread_for_staff"], view["unread_for_client"], view["my_unread"]) == (0, 0, 0)
    mine = await get(api, f"/api/conversations/{source}", tokens.client)
    assert (mine["merged_into"], mine["my_unread"]) == (target, 0)
    assert [m["content"] for m in await timeline(api, source, tokens.client, at)] == [
        "s1",
        "s2",
        "s3",
    ]
    # The target: its own, then the source's, each copy naming its origin.
    messages = await timeline(api, target, tokens.client, at)
    assert [m["content"] for m in messages] == ["t1", "s1", "s2", "s3"]
    assert messages[0]["merged_from"] is None
    origins = [m["merged_from"] for m in messages[1:]]
    assert [(o["conversation_id"], o["seq"]) for o in origins] == [(source, n) for n in (1, 2, 3)]
    for m in messages[1:]:
        sent_at = datetime.fromisoformat(m["merged_from"]["sent_at"])
        assert sent_at < datetime.fromisoformat(m["created_at"])
    # Unread: t1 and s3 for staff (s1 was read in the source), s2 for the client.
    row = await get(api, f"/api/conversations/{target}", tokens.admin)
    assert (row["unread_for_staff"], row["unread_for_client"], row["merged_into"]) == (2, 1, None)

    # The source refuses messages, naming the target.
    refused = await send(api, source, tokens.client, "too late")
    assert refused.status_code == 409
    assert (refused.json()["code"], refused.json()["details"]) == (
        "conversation_merged",
        {"into": target},
    )
    # Time travel: as it was before the merge, and after it.
    past = await get(api, f"/api/conversations/{source}", tokens.admin, as_of=str(before))
    assert (past["status"], past["merged_into"], len(past["messages"])) == ("active", None, 3)
    now = await get(api, f"/api/conversations/{source}", tokens.admin, as_of=str(at))
    assert (now["status"], now["merged_into"]) == ("closed", target)
    joined = await get(api, f"/api/conversations/{target}", tokens.admin, as_of=str(at))
    assert [m["merged_from"] and m["merged_from"]["seq"] for m in joined["messages"]] == [
        None,
        1,
        2,
        3,
    ]

    # Who may: a client cannot merge, another client sees neither.
    other = await start(api, tokens)
    forbidden = await merge(api, other, tokens.client, into=target)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    for cid in (source, target):
        for path, params in (
            (f"/api/conversations/{cid}", {}),
            ("/api/messages", {"conversation_id": cid}),
        ):
            response = await api.get(path, params=params, headers=tokens.other_client)
            assert response.status_code == 403


async def test_what_a_merge_refuses(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    source, target = await start(api, tokens), await start(api, tokens)
    stranger = await start(api, tokens, client_id="c-2")
    closed = await start(api, tokens)
    await api.patch(
        f"/api/conversations/{closed}/status", json={"status": "closed"}, headers=tokens.admin
    )
    for into, status, code in (
        (stranger, 422, "invalid_command"),
        (source, 422, "invalid_command"),
        (closed, 409, "conversation_closed"),
        (str(uuid.uuid4()), 404, "conversation_not_found"),
    ):
        response = await merge(api, source, tokens.admin, into=into)
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
        assert response.json()["field"] == "into"
    unknown = await merge(api, source, tokens.admin, into=target, also="x")
    assert unknown.status_code == 400
    assert (await merge(api, source, tokens.admin)).status_code == 400  # no into

    # A retry with the same command_id: the same answer, nothing doubled.
    await send(api, source, tokens.client, "once")
    first = await merge(api, source, tokens.admin, into=target, command_id="merge-1")
    head = await store.head_position()
    again = await merge(api, source, tokens.admin, into=target, command_id="merge-1")
    assert again.status_code == 200
    assert await store.head_position() == head
    expected = first.json()
    expected["source"]["replayed"] = expected["target"]["replayed"] = True
    assert again.json() == expected
    copies = await timeline(api, target, tokens.admin, expected["position"])
    assert [m["content"] for m in copies] == ["once"]
    # The same id for another merge: refused; merging on elsewhere: refused.
    reused = await merge(api, source, tokens.admin, into=closed, command_id="merge-1")
    assert (reused.status_code, reused.json()["code"]) == (409, "command_id_reused")
    elsewhere = await merge(api, source, tokens.admin, into=closed)
    assert (elsewhere.status_code, elsewhere.json()["details"]) == (409, {"into": target})


async def test_sends_racing_a_merge_are_each_kept_once_or_refused(
    api: httpx.AsyncClient, tokens: Tokens, pool: asyncpg.Pool
) -> None:
    target, source = await start(api, tokens), await start(api, tokens)
    accepted: dict[str, list[Json]] = {source: [], target: []}
    refusals: list[httpx.Response] = []
    merged = asyncio.Event()
    enough = asyncio.Event()

    async def sender(cid: str, headers: dict[str, str], tag: str) -> None:
        """Send until refused (to the source) or a while after the merge (to the target)."""
        n, after_merge = 0, 0
        while after_merge < 4:
            response = await send(api, cid, headers, f"{tag} {n}")
            n += 1
            if response.status_code == 409:
                refusals.append(response)
                return
            assert response.status_code == 201, response.text
            accepted[cid].append(response.json())
            if len(accepted[source]) >= 12:
                enough.set()
            after_merge += merged.is_set()

    async def merger() -> Json:
        async with asyncio.timeout(30):
            await enough.wait()
        response = await merge(api, source, tokens.admin, into=target)
        merged.set()
        assert response.status_code == 200, response.text
        return dict(response.json())

    senders = [
        sender(cid, who, f"{name}-{side}")
        for cid, side in ((source, "s"), (target, "t"))
        for name, who in (("c1", tokens.client), ("c2", tokens.client), ("a1", tokens.admin))
    ]
    answer, *_ = await asyncio.gather(merger(), *senders)

    # Every refusal names the target; every sender to the source was refused in the end.
    assert len(refusals) == 3
    for refusal in refusals:
        assert (refusal.json()["code"], refusal.json()["details"]) == (
            "conversation_merged",
            {"into": target},
        )
    # The log itself (the events table, folded here): the source's messages
    # are exactly the sends it accepted, and nothing follows its merge; the
    # target holds each of its own accepted sends once, then one copy of
    # each of the source's, in the source's order.
    source_log, target_log = await events_of(pool, source), await events_of(pool, target)
    assert source_log[-1]["type"] == "ConversationMerged"
    source_ids = [e["message_id"] for e in source_log if e["type"] == "MessageSent"]
    assert sorted(source_ids) == sorted(r["message_id"] for r in accepted[source])
    assert source_log[-1]["up_to_seq"] == len(source_ids)
    sent = [e for e in target_log if e["type"] == "MessageSent"]
    assert [e["seq"] for e in sent] == list(range(1, len(sent) + 1))
    own = [e["message_id"] for e in sent if e.get("merged_from") is None]
    copied = [e["merged_from"]["message_id"] for e in sent if e.get("merged_from")]
    assert sorted(own) == sorted(r["message_id"] for r in accepted[target])
    assert copied == source_ids
    # The read API agrees with the log: the same messages, each once.
    position = max(answer["position"], *(r["position"] for r in accepted[target]))
    shown = await timeline(api, target, tokens.admin, position)
    assert [m["message_id"] for m in shown] == [e["message_id"] for e in sent]
    assert [m["merged_from"] and m["merged_from"]["message_id"] for m in shown] == [
        e.get("merged_from") and e["merged_from"]["message_id"] for e in sent
    ]
    row = await get(api, f"/api/conversations/{target}", tokens.admin, min_position=position)
    unread = [m for m in shown if m["sender"] == "client" and m["read_by_staff_at"] is None]
    from_client = [m for m in shown if m["sender"] == "client"]
    assert row["unread_for_staff"] == len(unread) == len(from_client)  # nobody read anything
    assert row["message_count"] == len(shown)


async def events_of(pool: asyncpg.Pool, cid: str) -> list[Json]:
    rows = await pool.fetch(
        "SELECT data FROM events WHERE stream_id = $1 ORDER BY stream_position",
        f"conversation-{cid}",
    )
    return [json.loads(r["data"]) for r in rows]


async def test_a_merge_cut_short_is_finished_by_a_retry_or_the_completer(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    handler = CommandHandler(store)
    known = MergeTarget(client_id="c-1", status=Status.ACTIVE)
    pairs = []
    for command_id in ("cut-1", "cut-2"):
        target, source = await start(api, tokens), await start(api, tokens)
        await send(api, source, tokens.client, f"{command_id} message")
        step_one = MergeConversation(
            conversation_id=uuid.UUID(source),
            into=uuid.UUID(target),
            target=known,
            command_id=command_id,
        )
        await handler.handle(step_one, ALICE)  # then the server died, before step 2
        pairs.append((source, target, command_id))

    # The first: the client retries the request (same command_id).
    source, target, command_id = pairs[0]
    retried = await merge(api, source, tokens.admin, into=target, command_id=command_id)
    assert retried.status_code == 200, retried.text
    assert retried.json()["source"]["replayed"] is True
    at = retried.json()["position"]
    assert [m["content"] for m in await timeline(api, target, tokens.admin, at)] == [
        "cut-1 message"
    ]
    # The second: nobody retries; the workers' merge completer finishes it.
    source, target, _ = pairs[1]
    deadline = asyncio.get_running_loop().time() + 20
    while not (messages := await timeline(api, target, tokens.admin, 0)):
        assert asyncio.get_running_loop().time() < deadline, "the completer did not finish it"
        await asyncio.sleep(0.1)
    assert [(m["content"], m["merged_from"]["conversation_id"]) for m in messages] == [
        ("cut-2 message", source)
    ]
