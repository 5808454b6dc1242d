"""``GET /api/search`` over real HTTP, fed by the relay and the projections
through NATS: read your writes, misspelt names, what a client may (not)
find, the inbox's filters, stable pages, and bad input (a table, then
Hypothesis) that is never a 500.

The server's database is shared by every e2e test: each test searches for
words of its own (a random tag)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.handler import CommandHandler
from commands.model import Actor, AssignConversation, Role
from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens

Json = dict[str, Any]
ADMIN = Actor(id="alice", role=Role.ADMIN)
FUZZ_SECONDS = 10.0


def word() -> str:
    """A word nobody else's test uses (letters only: one lexeme)."""
    return "w" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])


async def start(
    api: httpx.AsyncClient, tokens: Tokens, name: str = "Carol", client_id: str = "c-1"
) -> Json:
    body = {"client": {"id": client_id, "name": name}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def send(api: httpx.AsyncClient, headers: dict[str, str], cid: str, text: str) -> Json:
    body = {"conversation_id": cid, "content": text}
    response = await api.post("/api/messages", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def search(
    api: httpx.AsyncClient, headers: dict[str, str], q: str, **params: Any
) -> list[Json]:
    """Every hit, page after page."""
    hits: list[Json] = []
    after = None
    while True:
        page = await api.get(
            "/api/search",
            params={"q": q, **params, **({"after": after} if after else {})},
            headers=headers,
        )
        assert page.status_code == 200, page.text
        hits += page.json()["items"]
        if (after := page.json()["next_after"]) is None:
            return hits


async def test_a_word_sent_a_moment_ago_is_found_at_once(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = (await start(api, tokens))["conversation_id"]
    for _ in range(5):
        fresh = word()
        sent = await send(api, tokens.client, cid, f"Where is my <b>{fresh}</b> & co?")
        # The command's position, passed back: the search waits for it.
        hits = await search(api, tokens.admin, fresh, min_position=sent["position"])
        assert [(h["kind"], h["id"], h["seq"]) for h in hits] == [
            ("message", sent["message_id"], sent["seq"])
        ]
        assert (
            hits[0]["snippet"] == f"Where is my &lt;b&gt;<mark>{fresh}</mark>&lt;/b&gt; &amp; co?"
        )
        assert (hits[0]["conversation_id"], hits[0]["sender"]) == (cid, "client")


async def test_a_misspelt_client_name_finds_the_conversation(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    tag = uuid.uuid4().hex[:6]
    started = await start(api, tokens, name=f"Evangelina Featherstonehaugh {tag}")
    other = await start(api, tokens, name=f"Evangeline Partridge {tag}")
    position = max(started["position"], other["position"])
    for typo in ("Evangelian Featherstonhaugh", "evangelina fetherstonehaugh"):
        hits = await search(api, tokens.admin, typo, min_position=position, limit=100)
        named = [h["conversation_id"] for h in hits if h["kind"] == "conversation"]
        # The conversation, ranked first; not the Evangeline with another surname.
        assert named[0] == started["conversation_id"], typo
        assert other["conversation_id"] not in named
    # The inbox's q (a part of the name) finds it through the same index.
    inbox = await api.get(
        "/api/conversations",
        params={"q": f"stonehaugh {tag}", "min_position": position},
        headers=tokens.admin,
    )
    assert [c["conversation_id"] for c in inbox.json()["items"]] == [started["conversation_id"]]


async def test_a_client_finds_only_its_own_messages_and_never_notes(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    secret = word()
    mine = (await start(api, tokens, client_id="c-1"))["conversation_id"]
    theirs = (await start(api, tokens, client_id="c-2"))["conversation_id"]
    await send(api, tokens.client, mine, f"my {secret} question")
    await send(api, tokens.other_client, theirs, f"their {secret} question")
    note = await api.post(
        f"/api/conversations/{mine}/notes",
        json={"content": f"{secret} internal: refund approved"},
        headers=tokens.agent,
    )
    assert note.status_code == 201, note.text
    position = note.json()["position"]

    staff = await search(api, tokens.agent, secret, min_position=position)
    assert sorted((h["conversation_id"], h["kind"]) for h in staff) == sorted(
        [(mine, "message"), (mine, "note"), (theirs, "message")]
    )
    carol = await search(api, tokens.client, secret, min_position=position)
    assert [(h["conversation_id"], h["kind"]) for h in carol] == [(mine, "message")]
    mallory = await search(api, tokens.other_client, secret, min_position=position)
    assert [(h["conversation_id"], h["kind"]) for h in mallory] == [(theirs, "message")]
    # The note's own words find nothing for the client.
    assert await search(api, tokens.client, f"{secret} internal approved") == []
    # Staff filters are not a client's to use (they would tell assignments and labels).
    for name, value in (("assignee", "me"), ("team", "t"), ("label", "vip")):
        refused = await api.get(
            "/api/search", params={"q": secret, name: value}, headers=tokens.client
        )
        assert refused.status_code == 403 and refused.json()["field"] == name, refused.text


async def test_the_inboxs_filters_combine(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    topic, tag = word(), uuid.uuid4().hex[:8]
    team, agent = f"team-{tag}", f"agent-{tag}"
    created = await api.post(
        "/api/labels", json={"name": f"vip {tag}", "colour": "#AA0000"}, headers=tokens.admin
    )
    assert created.status_code == 201, created.text
    vip = created.json()["label_id"]
    ids = [(await start(api, tokens))["conversation_id"] for _ in range(4)]
    for cid in ids:
        await send(api, tokens.client, cid, f"about {topic}")
    handler = CommandHandler(store)
    for cid in ids[:2]:  # two in the team with the agent, one in the team's queue
        await handler.handle(AssignConversation(conversation_id=UUID(cid), agent_id=agent,
                                                team_id=team), ADMIN)  # fmt: skip
    await handler.handle(AssignConversation(conversation_id=UUID(ids[2]), team_id=team), ADMIN)
    for cid in (ids[0], ids[2]):
        labelled = await api.post(
            f"/api/conversations/{cid}/labels", json={"label_id": vip}, headers=tokens.admin
        )
        assert labelled.status_code == 200, labelled.text
    closed = await api.patch(
        f"/api/conversations/{ids[1]}/status", json={"status": "closed"}, headers=tokens.admin
    )
    position = closed.json()["position"]

    async def found(**filters: str) -> set[str]:
        hits = await search(api, tokens.admin, topic, min_position=position, **filters)
        return {h["conversation_id"] for h in hits}

    assert await found() == set(ids)
    assert await found(team=team) == set(ids[:3])
    assert await found(team=team, assignee=agent) == set(ids[:2])
    assert await found(team=team, assignee="unassigned") == {ids[2]}
    assert await found(assignee=agent, status="closed") == {ids[1]}
    assert await found(label=vip) == {ids[0], ids[2]}
    assert await found(label=vip, assignee=agent) == {ids[0]}
    assert await found(label=vip, status="closed") == set()


async def test_pages_neither_skip_nor_repeat_while_new_matches_arrive(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    topic = word()
    cid = (await start(api, tokens))["conversation_id"]
    sent = [
        await send(api, tokens.client, cid, f"{topic} " * (1 + n % 3) + str(n)) for n in range(23)
    ]
    seen: list[str] = []
    params: dict[str, Any] = {"q": topic, "limit": 4, "min_position": sent[-1]["position"]}
    while True:
        page = await api.get("/api/search", params=params, headers=tokens.admin)
        assert page.status_code == 200, page.text
        seen += [h["id"] for h in page.json()["items"]]
        ranks = [h["rank"] for h in page.json()["items"]]
        assert ranks == sorted(ranks, reverse=True)
        # A new match arrives between pages (ranked low: long, the word once).
        await send(api, tokens.client, cid, f"{topic} " + "filler " * 40)
        if (after := page.json()["next_after"]) is None:
            break
        params["after"] = after
    assert sorted(seen) == sorted(s["message_id"] for s in sent)
    # A cursor pages its own search only.
    other = await api.get("/api/search", params={"q": "other", "after": after or params["after"]},
                          headers=tokens.admin)  # fmt: skip
    assert other.status_code == 400 and other.json()["field"] == "after", other.text


BAD_QUERIES = [
    ({}, 400, "invalid_query", "q"),
    ({"q": ""}, 400, "invalid_query", "q"),
    ({"q": "   "}, 400, "invalid_query", "q"),
    ({"q": "?!&|"}, 400, "invalid_query", "q"),
    ({"q": "a" * 201}, 400, "invalid_request", "q"),
    ({"q": "a\x00b"}, 400, "invalid_request", "q"),
    ({"q": "x", "limit": "0"}, 400, "invalid_request", "limit"),
    ({"q": "x", "limit": "101"}, 400, "invalid_request", "limit"),
    ({"q": "x", "after": "not-a-cursor"}, 400, "invalid_query", "after"),
    ({"q": "x", "after": "a" * 501}, 400, "invalid_request", "after"),
    ({"q": "x", "status": "lost"}, 400, "invalid_request", "status"),
    ({"q": "x", "label": "Not A Label Id"}, 400, "invalid_query", "label"),
    ({"q": "x", "min_position": str(2**63)}, 400, "invalid_request", "min_position"),
]


@pytest.mark.parametrize(("params", "status", "code", "field"), BAD_QUERIES)
async def test_bad_input_is_a_clear_4xx(
    api: httpx.AsyncClient,
    tokens: Tokens,
    params: dict[str, str],
    status: int,
    code: str,
    field: str,
) -> None:
    response = await api.get("/api/search", params=params, headers=tokens.admin)
    assert response.status_code == status, response.text
    assert (response.json()["code"], response.json().get("field")) == (code, field)


QUERIES = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(['"', "-", "or", "OR", "&", "|", "!", ":*", "(", ")", "<->", "'", "\\",
                         "%", "_", "a", "refund", " ", "\u0000", "\ue000", "\ufffd", "ß", "注"]),
        max_size=12,
    ).map("".join),
)  # fmt: skip


def fuzz(base_url: str, tokens: Tokens, seconds: float) -> tuple[int, list[str]]:
    """Random ``q``s (and a few other parameters) for ``seconds``: how many
    were sent, and the answers that were 5xx."""
    deadline, failures, sent = time.monotonic() + seconds, [], 0
    with httpx.Client(base_url=base_url, timeout=30) as http:

        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(
            who=st.sampled_from([tokens.admin, tokens.client]),
            q=QUERIES,
            limit=st.sampled_from(["1", "7", "100"]),
            status=st.sampled_from([None, "active", "closed"]),
        )
        def batch(who: dict[str, str], q: str, limit: str, status: str | None) -> None:
            nonlocal sent
            if time.monotonic() > deadline:
                return
            params = {"q": q, "limit": limit, **({"status": status} if status else {})}
            answer = http.get("/api/search", params=params, headers=who)
            sent += 1
            if answer.status_code >= 500:
                failures.append(f"{answer.request.url}: {answer.text}")
            assert answer.status_code in (200, 400), answer.text

        while time.monotonic() < deadline:
            batch()
    return sent, failures


async def test_no_q_is_ever_a_server_error(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = (await start(api, tokens, name="Fuzzy Refund"))["conversation_id"]
    await send(api, tokens.client, cid, "refund a & b | c ! 'quoted' \"phrase\" ß 注文")
    sent, failures = await asyncio.to_thread(fuzz, server_url, tokens, FUZZ_SECONDS)
    assert sent > 50 and failures == []
