"""Presence across real `parley serve` processes, and the limits that protect
a node (sockets per user, subscriptions per socket, upgrades per IP)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import MakeDatabase
from tests.e2e.cluster import Node, running_cluster, start_on, ws
from tests.e2e.conftest import Tokens, bearer
from tests.e2e.test_websocket import close_code, next_frame, token_for

TTL = 2.0
MAX_SOCKETS = 3
MAX_SUBSCRIPTIONS = 2
CONNECTS_PER_MINUTE = 20


@pytest.fixture
async def cluster(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[list[Node]]:
    settings = {
        "PARLEY_PRESENCE_TTL_SECONDS": str(TTL),
        "PARLEY_WS_MAX_SOCKETS_PER_USER": str(MAX_SOCKETS),
        "PARLEY_WS_MAX_SUBSCRIPTIONS": str(MAX_SUBSCRIPTIONS),
        "PARLEY_WS_CONNECTS_PER_MINUTE": str(CONNECTS_PER_MINUTE),
    }
    logs = tmp_path_factory.mktemp("presence")
    async with running_cluster(make_database, nats_url, nats_prefix, logs, settings) as nodes:
        yield nodes


async def presence_of(node: Node, cid: str, tokens: Tokens) -> dict[str, str]:
    """user id -> role, as GET /api/conversations/{id}/presence on ``node`` says."""
    async with httpx.AsyncClient(base_url=node.url) as api:
        response = await api.get(f"/api/conversations/{cid}/presence", headers=tokens.admin)
    assert response.status_code == 200, response.text
    return {user["user_id"]: user["role"] for user in response.json()["online"]}


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Poll ``check`` (an async predicate) until it holds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def presence_frame(socket: ClientConnection, user_id: str, timeout: float = 10) -> str:
    """The state of the next PRESENCE frame about ``user_id``."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await next_frame(socket, "PRESENCE", timeout=timeout)
            if frame["user_id"] == user_id:
                return str(frame["state"])


async def metric(node: Node, name: str) -> float:
    async with httpx.AsyncClient(base_url=node.url) as api:
        text = (await api.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_presence_follows_a_client_across_nodes_and_a_dead_node_drops_out_within_the_ttl(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster
    cid = await start_on(a, tokens, client_id="c-pres")
    client_token = token_for("carol", role="client", client_id="c-pres")
    async with (
        connect(ws(b, f"/ws/{cid}", token_for("staff-b"))) as staff,
        connect(ws(b, "/ws/inbox", token_for("staff-inbox"))) as inbox,
    ):
        await next_frame(staff, "READY")
        await next_frame(inbox, "READY")
        assert await presence_of(a, cid, tokens) == {"staff-b": "admin"}

        client = await connect(ws(a, f"/ws/{cid}", client_token))
        await next_frame(client, "READY")
        assert await presence_frame(staff, "carol") == "joined"
        assert await presence_frame(inbox, "carol") == "joined"
        for node in (a, b):
            assert await presence_of(node, cid, tokens) == {"staff-b": "admin", "carol": "client"}
        assert await metric(b, "parley_online_users") == 2
        assert await metric(a, "parley_ws_connections") == 1

        a.process.kill()  # SIGKILL: no goodbye from node A
        killed = time.monotonic()
        assert await presence_frame(staff, "carol", timeout=TTL + 5) == "left"
        assert time.monotonic() - killed <= TTL + 1.5
        assert await presence_frame(inbox, "carol") == "left"
        assert await presence_of(b, cid, tokens) == {"staff-b": "admin"}


async def test_a_staff_socket_learns_who_is_there_from_its_ready_and_a_client_does_not(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster
    cid = await start_on(a, tokens, client_id="c-ready")
    client_token = token_for("gina", role="client", client_id="c-ready")
    async with connect(ws(a, f"/ws/{cid}", client_token)) as client:
        client_ready = await next_frame(client, "READY")
        assert client_ready["online"] is None  # a client is told nothing of presence
        await eventually(lambda: _has_connections(b, cid, tokens, "gina", 1))
        async with connect(ws(b, f"/ws/{cid}", token_for("staff-r"))) as staff:
            ready = await next_frame(staff, "READY")
            online = {user["user_id"]: user for user in ready["online"]}
            assert set(online) == {"gina", "staff-r"}  # someone on another node, and itself
            assert (online["gina"]["role"], online["gina"]["connections"]) == ("client", 1)
            inbox = await connect(ws(b, "/ws/inbox", token_for("staff-i")))
            assert (await next_frame(inbox, "READY"))["online"] is None
            await inbox.close()


async def test_a_client_that_closes_its_socket_leaves_at_once_and_clients_get_no_presence(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster
    cid = await start_on(a, tokens, client_id="c-bye")
    client_token = token_for("dave", role="client", client_id="c-bye")
    async with connect(ws(b, f"/ws/{cid}", token_for("staff-b"))) as staff:
        await next_frame(staff, "READY")
        async with connect(ws(a, f"/ws/{cid}", client_token)) as client:
            await next_frame(client, "READY")
            assert await presence_frame(staff, "dave") == "joined"
            # A second socket of the same user: no second "joined"; the client
            # itself hears nothing of presence.
            async with connect(ws(b, f"/ws/{cid}", client_token)) as again:
                await next_frame(again, "READY")
                await eventually(lambda: _has_connections(b, cid, tokens, "dave", 2))
            await client.send(json.dumps({"type": "PING", "ref": "p"}))
            frame = await next_frame(client)
            while frame["type"] != "PONG":
                assert frame["type"] != "PRESENCE", frame
                frame = await next_frame(client)
        closed = time.monotonic()
        assert await presence_frame(staff, "dave") == "left"
        assert time.monotonic() - closed < TTL / 2
        assert await presence_of(a, cid, tokens) == {"staff-b": "admin"}


async def _has_connections(node: Node, cid: str, tokens: Tokens, user: str, n: int) -> bool:
    async with httpx.AsyncClient(base_url=node.url) as api:
        body = (await api.get(f"/api/conversations/{cid}/presence", headers=tokens.admin)).json()
    return any(u["user_id"] == user and u["connections"] == n for u in body["online"])


CLIENT_PROCESS = """
import asyncio, sys
from websockets.asyncio.client import connect

async def main():
    async with connect(sys.argv[1]) as socket:
        while '"READY"' not in await socket.recv():
            pass
        print("ready", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_client_process_killed_with_sigkill_leaves_on_every_node(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster
    cid = await start_on(a, tokens, client_id="c-kill")
    url = ws(a, f"/ws/{cid}", token_for("frank", role="client", client_id="c-kill"))
    async with connect(ws(b, f"/ws/{cid}", token_for("staff-b"))) as staff:
        await next_frame(staff, "READY")
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT_PROCESS, url, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert client.stdout is not None
            line = await asyncio.wait_for(client.stdout.readline(), 10)
            assert line.strip() == b"ready"
            assert await presence_frame(staff, "frank") == "joined"
            assert "frank" in await presence_of(b, cid, tokens)
            client.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            assert await presence_frame(staff, "frank", timeout=TTL + 5) == "left"
            assert time.monotonic() - killed <= TTL
            assert "frank" not in await presence_of(a, cid, tokens)
            assert "frank" not in await presence_of(b, cid, tokens)
        finally:
            with contextlib.suppress(ProcessLookupError):
                client.kill()
            await client.wait()


async def test_presence_of_someone_elses_conversation_is_forbidden(
    cluster: list[Node], tokens: Tokens
) -> None:
    cid = await start_on(cluster[0], tokens, client_id="c-owner")
    async with httpx.AsyncClient(base_url=cluster[0].url) as api:
        other = bearer(token_for("eve", role="client", client_id="c-other"))
        assert (await api.get(f"/api/conversations/{cid}/presence", headers=other)).json()[
            "code"
        ] == "forbidden"
        missing = await api.get(
            "/api/conversations/00000000-0000-0000-0000-000000000000/presence",
            headers=tokens.admin,
        )
        assert missing.status_code == 404


async def test_one_socket_more_than_the_per_user_limit_is_refused_4409_and_others_are_not(
    cluster: list[Node], tokens: Tokens
) -> None:
    a = cluster[0]
    cid = await start_on(a, tokens)
    greedy = token_for("greedy")
    sockets = [await connect(ws(a, f"/ws/{cid}", greedy)) for _ in range(MAX_SOCKETS)]
    try:
        for socket in sockets:
            await next_frame(socket, "READY")
        async with connect(ws(a, f"/ws/{cid}", greedy)) as one_more:
            assert await close_code(one_more) == 4409
        async with connect(ws(a, f"/ws/{cid}", token_for("modest"))) as other:
            assert (await next_frame(other, "READY"))["type"] == "READY"
        await sockets.pop().close()
        # The server counts a socket until it has finished closing it.
        await eventually(lambda: _metric_is(a, "parley_ws_connections", MAX_SOCKETS - 1))
        async with connect(ws(a, f"/ws/{cid}", greedy)) as after_closing_one:
            assert (await next_frame(after_closing_one, "READY"))["type"] == "READY"
    finally:
        for socket in sockets:
            await socket.close()
    assert await metric(a, 'parley_ws_refused{limit="too_many_sockets"}') == 1


async def _metric_is(node: Node, name: str, value: float) -> bool:
    return await metric(node, name) == value


async def test_one_subscription_more_than_the_limit_is_refused_and_others_are_not(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b = cluster
    cids = [await start_on(a, tokens) for _ in range(MAX_SUBSCRIPTIONS + 1)]
    async with (
        connect(ws(a, "/ws/inbox", token_for("watcher"))) as inbox,
        connect(ws(a, "/ws/inbox", token_for("other-watcher"))) as other,
    ):
        await next_frame(inbox, "READY")
        await next_frame(other, "READY")
        for i, cid in enumerate(cids[:MAX_SUBSCRIPTIONS]):
            subscribe = {"type": "SUBSCRIBE", "conversation_id": cid, "ref": str(i)}
            await inbox.send(json.dumps(subscribe))
            assert len((await next_frame(inbox, "SUBSCRIPTIONS"))["conversation_ids"]) == i + 1
        await inbox.send(json.dumps({"type": "SUBSCRIBE", "conversation_id": cids[-1]}))
        error = await next_frame(inbox, "ERROR")
        assert error["code"] == "too_many_subscriptions"
        await other.send(json.dumps({"type": "SUBSCRIBE", "conversation_id": cids[-1]}))
        assert (await next_frame(other, "SUBSCRIPTIONS"))["conversation_ids"] == [cids[-1]]

        # A subscription brings that conversation's typing, from any node.
        async with connect(ws(b, f"/ws/{cids[0]}", token_for("typist"))) as typist:
            await next_frame(typist, "READY")
            await typist.send(json.dumps({"type": "TYPING_START"}))
            typing = await next_frame(inbox, "TYPING")
            assert (typing["conversation_id"], typing["state"]) == (cids[0], "started")

        await inbox.send(json.dumps({"type": "UNSUBSCRIBE", "conversation_id": cids[0]}))
        assert cids[0] not in (await next_frame(inbox, "SUBSCRIPTIONS"))["conversation_ids"]
        await inbox.send(json.dumps({"type": "SUBSCRIBE", "conversation_id": cids[-1]}))
        assert cids[-1] in (await next_frame(inbox, "SUBSCRIPTIONS"))["conversation_ids"]
    assert await metric(a, 'parley_ws_refused{limit="too_many_subscriptions"}') == 1


async def test_connection_attempts_over_the_per_ip_limit_are_refused_4429_for_that_ip_only(
    cluster: list[Node], tokens: Tokens
) -> None:
    b = cluster[1]
    cid = await start_on(b, tokens)
    url = ws(b, f"/ws/{cid}", "not-even-a-token")
    codes = []
    for _ in range(CONNECTS_PER_MINUTE + 1):  # from another loopback address
        async with connect(url, local_addr=("127.0.0.2", 0)) as attempt:  # type: ignore[call-arg]
            codes.append(await close_code(attempt))
    assert codes == [4401] * CONNECTS_PER_MINUTE + [4429]
    async with connect(ws(b, f"/ws/{cid}", token_for("elsewhere"))) as unaffected:
        assert (await next_frame(unaffected, "READY"))["type"] == "READY"
    assert await metric(b, 'parley_ws_refused{limit="too_many_connects"}') == 1


async def test_staff_sockets_that_vanish_together_end_quietly(
    cluster: list[Node], tokens: Tokens
) -> None:
    """Each goes while the node is telling it that the others left: a send to
    a socket already gone ends its session as a disconnect, not as an error."""
    a, _ = cluster
    cid = await start_on(a, tokens, client_id="c-vanish")
    sockets = [
        await connect(  # type: ignore[call-arg]
            ws(a, f"/ws/{cid}", token_for(f"staff-{i}")),
            local_addr=(f"127.0.0.{10 + i % 3}", 0),  # under the per-address limit
        )
        for i in range(30)
    ]
    for socket in sockets:
        await next_frame(socket, "READY")
    for socket in sockets:
        socket.transport.abort()  # no closing handshake: the TCP connection just drops
    await eventually(lambda: _is(metric(a, "parley_ws_connections"), 0))
    assert await presence_of(a, cid, tokens) == {}
    log = a.log.read_text()
    assert "websocket session failed" not in log, log[-3000:]


async def _is(value: Any, expected: float) -> bool:
    return bool(await value == expected)
