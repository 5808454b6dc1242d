"""Several `parley serve` processes behind one NATS, and what only a real
process shows: heartbeats and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import MakeDatabase
from tests.e2e.cluster import Node, running_cluster, start_on, ws
from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import next_frame, token_for

ALLOWED_ORIGIN = "https://admin.example.com"


@pytest.fixture(scope="module")
async def cluster(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[list[Node]]:
    """Two serve processes (heartbeat 1 s, typing timeout 1.5 s) and one worker
    on a fresh database."""
    settings = {
        "PARLEY_WS_HEARTBEAT_SECONDS": "1",
        "PARLEY_WS_TYPING_TIMEOUT_SECONDS": "1.5",
        "PARLEY_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
    }
    logs = tmp_path_factory.mktemp("cluster")
    async with running_cluster(make_database, nats_url, nats_prefix, logs, settings) as nodes:
        yield nodes


async def test_a_message_sent_on_one_node_reaches_a_socket_on_the_other(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster[0], cluster[1]
    cid = await start_on(a, tokens)
    async with (
        connect(ws(a, f"/ws/{cid}", token_for("node-a"))) as sender,
        connect(ws(b, f"/ws/{cid}", token_for("node-b"))) as receiver,
    ):
        await next_frame(sender, "READY")
        await next_frame(receiver, "READY")
        await sender.send(json.dumps({"type": "SEND_MESSAGE", "content": "across nodes"}))
        ack = await next_frame(sender, "ACK")
        created = await next_frame(receiver, "MESSAGE_CREATED")
        assert created["message_id"] == ack["message_id"]


async def test_a_client_that_stops_answering_heartbeats_is_dropped(
    cluster: list[Node], tokens: Tokens
) -> None:
    cid = await start_on(cluster[0], tokens)
    async with connect(ws(cluster[0], f"/ws/{cid}", token_for("sleeper"))) as silent:
        assert (await next_frame(silent, "HEARTBEAT", timeout=5))["type"] == "HEARTBEAT"
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await silent.recv()
        assert silent.close_code == 4001


async def test_a_client_that_answers_heartbeats_stays(cluster: list[Node], tokens: Tokens) -> None:
    cid = await start_on(cluster[0], tokens)
    async with connect(ws(cluster[0], f"/ws/{cid}", token_for("awake"))) as awake:
        for _ in range(4):  # 4 heartbeats: well past two intervals
            await next_frame(awake, "HEARTBEAT", timeout=5)
            await awake.send(json.dumps({"type": "PING"}))
        await awake.send(json.dumps({"type": "PING", "ref": "here"}))
        while (await next_frame(awake, "PONG")).get("ref") != "here":
            pass


async def test_typing_for_a_long_time_stays_shown_and_ends_when_refreshes_stop(
    cluster: list[Node], tokens: Tokens
) -> None:
    # Scaled down: the typing timeout here is 1.5 s instead of 15 s, so 12 s of
    # typing with a refresh every 0.5 s is 8 timeouts long (3 minutes at scale).
    a, b = cluster[0], cluster[1]
    cid = await start_on(a, tokens)
    async with (
        connect(ws(a, f"/ws/{cid}", token_for(f"typist-{uuid.uuid4()}"))) as typist,
        connect(ws(b, f"/ws/{cid}", token_for("reader"))) as reader,
    ):
        await next_frame(typist, "READY")
        await next_frame(reader, "READY")
        frames: list[dict[str, object]] = []
        replies: list[dict[str, object]] = []

        async def watch(socket: ClientConnection, into: list[dict[str, object]]) -> None:
            while True:
                into.append(json.loads(await socket.recv()))

        watching = [
            asyncio.create_task(watch(reader, frames)),
            asyncio.create_task(watch(typist, replies)),
        ]
        for _ in range(24):  # (the pace of a client, not a wait for the server)
            await typist.send(json.dumps({"type": "TYPING_START"}))
            await reader.send(json.dumps({"type": "PING"}))  # answer heartbeats
            await asyncio.sleep(0.5)
        # Refreshes stop (the client forgot TYPING_STOP): the server ends it.
        async with asyncio.timeout(30):
            while not [f for f in frames if f.get("state") == "stopped"]:
                for socket in (typist, reader):
                    await socket.send(json.dumps({"type": "PING"}))
                await asyncio.sleep(0.2)
        for task in watching:
            task.cancel()
        typing = [f["state"] for f in frames if f["type"] == "TYPING"]
        assert typing == ["started", "stopped"]
        assert not [r for r in replies if r.get("code") == "rate_limited"]


async def test_websockets_from_a_foreign_origin_are_refused(
    cluster: list[Node], tokens: Tokens
) -> None:
    node = cluster[0]
    cid = await start_on(node, tokens)
    url = ws(node, f"/ws/{cid}", token_for("browser"))
    for origin in (ALLOWED_ORIGIN, node.url):  # an allowed one, and the server's own
        async with connect(url, origin=origin) as allowed:  # type: ignore[arg-type]
            assert (await next_frame(allowed, "READY"))["type"] == "READY"
    async with connect(url, origin="https://evil.example") as foreign:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed):
            await foreign.recv()
        assert foreign.close_code == 4406


async def test_cors_preflight_answers_allowed_origins_only(cluster: list[Node]) -> None:
    async with httpx.AsyncClient(base_url=cluster[0].url) as api:

        def preflight(origin: str) -> dict[str, str]:
            return {
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            }

        allowed = await api.options("/api/messages", headers=preflight(ALLOWED_ORIGIN))
        foreign = await api.options("/api/messages", headers=preflight("https://evil.example"))
    assert allowed.status_code in (200, 204)
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in foreign.headers


async def test_tokens_never_reach_the_access_log(cluster: list[Node], tokens: Tokens) -> None:
    node = cluster[0]
    cid = await start_on(node, tokens)
    secret = token_for("logged")
    async with connect(ws(node, f"/ws/{cid}", secret)) as client:
        await next_frame(client, "READY")
    async with httpx.AsyncClient(base_url=node.url) as api:
        await api.get("/api/conversations", params={"token": secret}, headers=tokens.admin)
    async with asyncio.timeout(10):  # until the access log has the last request
        while "/api/conversations?token=***" not in (log := node.log.read_text()):
            await asyncio.sleep(0.05)
    assert "/ws/" in log
    assert secret not in log
    assert tokens.admin["Authorization"].split()[1] not in log


# Last in the module: it stops node B.
async def test_sigterm_under_traffic_exits_0_keeps_every_acknowledged_message_and_says_1001(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster[0], cluster[1]
    cid = await start_on(a, tokens)
    acknowledged: set[str] = set()
    stop = asyncio.Event()

    async def http_traffic() -> None:
        async with httpx.AsyncClient(base_url=b.url) as api:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    response = await api.post(
                        "/api/messages",
                        json={"conversation_id": cid, "content": f"http {i}"},
                        headers=tokens.admin,
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 201:
                    acknowledged.add(response.json()["message_id"])

    async def ws_traffic(client: ClientConnection) -> None:
        i = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                i += 1
                await client.send(json.dumps({"type": "SEND_MESSAGE", "content": f"ws {i}"}))
                frame = await next_frame(client, "ACK")
                acknowledged.add(frame["message_id"])

    async with connect(ws(b, f"/ws/{cid}", token_for(f"busy-{uuid.uuid4()}"))) as client:
        await next_frame(client, "READY")
        traffic = [asyncio.create_task(http_traffic()), asyncio.create_task(ws_traffic(client))]
        async with asyncio.timeout(30):  # traffic under way on both paths
            while len(acknowledged) <= 10:
                await asyncio.sleep(0.05)
        b.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(asyncio.to_thread(b.process.wait), 10)
        stop.set()
        await asyncio.gather(*traffic)
        assert client.close_code == 1001
    assert exit_code == 0
    assert len(acknowledged) > 10
    async with httpx.AsyncClient(base_url=a.url) as api:
        stored: set[str] = set()
        after: int | None = 0
        while after is not None:
            page = await api.get(
                f"/api/conversations/{cid}/history",
                params={"after": after, "limit": 100},
                headers=tokens.admin,
            )
            body = page.json()
            stored |= {e["data"]["message_id"] for e in body["items"] if e["type"] == "MessageSent"}
            after = body["next_after"]
    assert acknowledged <= stored
