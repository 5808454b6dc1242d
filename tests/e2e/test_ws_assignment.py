"""Support workflow over WebSocket: two agents answering the same client
message with ``seen_version`` (exactly one reply is accepted, the other is
told what it missed), assignments and availability as frames, and what a
client's socket never sees.

Assignments and availability are commands run here, through a handler of
their own on the server's database: the server hears of them as of any
append, through the relay and NATS."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from commands.handler import CommandHandler
from commands.model import Actor, AssignConversation, Role
from commands.staff import SetAvailability
from commands.staff_handler import StaffHandler
from events.catalogue import Availability
from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import (
    close_code,
    kinds_until_pong,
    next_frame,
    socket,
    start,
    token_for,
)

Frame = dict[str, Any]
ADMIN = Actor(id="ws-assigner", role=Role.ADMIN)
INTERNALS = ("agent_id", "team_id", "team_name", "by", "reason")


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(pool)
    yield store
    await store.close()


async def register(store: PostgresEventStore, name: str) -> str:
    """A new agent in the directory (online), named ``name``; its id."""
    agent_id = f"ws-{name.lower()}-{uuid.uuid4().hex[:8]}"
    actor = Actor(id=agent_id, role=Role.AGENT, name=name)
    await StaffHandler(store).handle(
        SetAvailability(agent_id=agent_id, availability=Availability.ONLINE), actor
    )
    return agent_id


async def send(ws: ClientConnection, content: str, ref: str, **fields: object) -> None:
    await ws.send(json.dumps({"type": "SEND_MESSAGE", "content": content, "ref": ref, **fields}))


async def answer(ws: ClientConnection, ref: str) -> Frame:
    """The ACK or ERROR that answers the frame sent with ``ref``."""
    while True:
        frame = await next_frame(ws)
        if frame["type"] in ("ACK", "ERROR") and frame.get("ref") == ref:
            return frame


async def message(ws: ClientConnection, content: str) -> Frame:
    """The MESSAGE_CREATED of the message with ``content``."""
    while (frame := await next_frame(ws, "MESSAGE_CREATED"))["content"] != content:
        pass
    return frame


async def test_two_agents_answer_the_same_message_and_exactly_one_reply_is_accepted(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    anna, ben = await register(store, "Anna"), await register(store, "Ben")
    async with (
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
        socket(server_url, path, token_for(anna, "agent")) as a,
        socket(server_url, path, token_for(ben, "agent")) as b,
    ):
        for ws in (client, a, b):
            await next_frame(ws, "READY")
        for round_ in range(20):
            question = f"question {round_}"
            await send(client, question, f"q{round_}")
            assert (await answer(client, f"q{round_}"))["type"] == "ACK"
            # Each agent answers the version its own frames showed it.
            seen_a = (await message(a, question))["stream_position"]
            seen_b = (await message(b, question))["stream_position"]
            assert seen_a == seen_b
            replies = {a: f"from Anna {round_}", b: f"from Ben {round_}"}
            await asyncio.gather(
                *(send(ws, replies[ws], f"r{round_}", seen_version=seen_a) for ws in (a, b))
            )
            answers = {ws: await answer(ws, f"r{round_}") for ws in (a, b)}

            accepted = [ws for ws, frame in answers.items() if frame["type"] == "ACK"]
            assert len(accepted) == 1, answers
            (winner,) = accepted
            (loser,) = [ws for ws in (a, b) if ws is not winner]
            refusal = answers[loser]
            assert refusal["type"] == "ERROR" and refusal["code"] == "conversation_moved"
            assert refusal["field"] == "seen_version"
            missed = refusal["details"]["missed"]
            assert [m["type"] for m in missed] == ["MessageSent"]
            assert missed[0]["data"]["content"] == replies[winner]
            assert missed[0]["stream_position"] == seen_a + 1
            assert refusal["details"]["version"] == seen_a + 1
            # The client saw the one reply, named, and nothing of the refused one.
            reply = await message(client, replies[winner])
            assert reply["stream_position"] == seen_a + 1
            assert reply["sender_name"] == ("Anna" if winner is a else "Ben")


async def test_an_assignment_reaches_staff_in_full_and_the_client_as_a_name_only(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    xena = await register(store, "Xena")
    async with (
        socket(server_url, path, token_for("ws-staff-watch", "agent")) as staff,
        socket(server_url, "/ws/inbox", token_for("ws-inbox"), after_position="now") as inbox,
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
    ):
        for ws in (staff, inbox, client):
            await next_frame(ws, "READY")
        await CommandHandler(store).handle(
            AssignConversation(conversation_id=uuid.UUID(cid), agent_id=xena), ADMIN
        )

        for ws in (staff, inbox):
            assigned = await next_frame(ws, "ASSIGNED")
            assert assigned["conversation_id"] == cid and assigned["stream_position"] == 2
            assert (assigned["agent_id"], assigned["agent_name"]) == (xena, "Xena")
            assert (assigned["by"], assigned["reason"]) == (ADMIN.id, "manual")
        seen = await next_frame(client)
        assert seen["type"] == "ASSIGNED" and seen["stream_position"] == 2
        assert seen["agent_name"] == "Xena"
        assert all(seen[field] is None for field in INTERNALS)

        # The client's stream stays gapless: the next event is the next position.
        await send(client, "thanks", "t1")
        assert (await message(client, "thanks"))["stream_position"] == 3
        assert (await answer(client, "t1"))["type"] == "ACK"

    # Replayed, the client's stream is the same: every position, redacted.
    async with socket(server_url, path, token_for("ws-carol", "client", "c-1"), after=0) as again:
        replayed = [await next_frame(again) for _ in range(4)]
    assert [f["stream_position"] for f in replayed[:3]] == [1, 2, 3]
    assert replayed[3]["type"] == "READY"
    assert replayed[1]["type"] == "ASSIGNED" and replayed[1]["agent_name"] == "Xena"
    assert all(replayed[1][field] is None for field in INTERNALS)


async def test_availability_reaches_inbox_sockets_only(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    yuri = await register(store, "Yuri")
    async with (
        socket(server_url, "/ws/inbox", token_for("ws-inbox-2"), after_position="now") as inbox,
        socket(server_url, path, token_for("ws-staff-2", "agent")) as staff,
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
    ):
        for ws in (inbox, staff, client):
            await next_frame(ws, "READY")
        await StaffHandler(store).handle(
            SetAvailability(agent_id=yuri, availability=Availability.AWAY),
            Actor(id=yuri, role=Role.AGENT),
        )

        changed = await next_frame(inbox, "STAFF_CHANGED")
        assert changed["change"] == "AgentAvailabilityChanged"
        assert (changed["agent_id"], changed["display_name"], changed["availability"]) == (
            yuri,
            "Yuri",
            "away",
        )
        # The node fanned it out at once: conversation sockets never get it.
        for ws in (staff, client):
            assert "STAFF_CHANGED" not in await kinds_until_pong(ws)


async def test_a_stale_client_is_told_what_it_missed_without_staff_internals(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    zoe = await register(store, "Zoe")
    await CommandHandler(store).handle(
        AssignConversation(conversation_id=uuid.UUID(cid), agent_id=zoe), ADMIN
    )
    async with socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client:
        await next_frame(client, "READY")
        await send(client, "anyone?", "s1", seen_version=1)
        refusal = await answer(client, "s1")
    assert (refusal["type"], refusal["code"]) == ("ERROR", "conversation_moved")
    (missed,) = refusal["details"]["missed"]
    assert missed["type"] == "ConversationAssigned" and missed["metadata"] is None
    assert all(missed["data"][field] is None for field in ("agent_id", "team_id", "by", "reason"))


async def test_a_client_token_cannot_open_the_inbox_or_another_clients_conversation(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)  # client c-1's
    async with socket(server_url, "/ws/inbox", token_for("ws-carol", "client", "c-1")) as ws:
        assert await close_code(ws) == 4403
    async with socket(server_url, f"/ws/{cid}", token_for("ws-mallory", "client", "c-2")) as ws:
        assert await close_code(ws) == 4403
