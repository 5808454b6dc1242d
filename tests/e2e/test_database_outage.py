"""PostgreSQL goes away under a running server: commands answer 503
``unavailable`` with ``Retry-After`` within 5 s (never a 500, never silence),
readiness says so, and both recover within 5 s of the database coming back.
A client that retries with the same ``client_message_id`` gets its message
stored once.

The server reaches PostgreSQL through a TCP proxy the test controls
(tests/faultproxy.py): "refuse" is a server that is down, "freeze" a server
that is paused or a link that went dead.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import nats
import pytest
import uvicorn

from parley.app import create_app
from parley.services import QUERY_TIMEOUT, SERVER_POOL_SIZE, connect_postgres
from parley.settings import Settings
from parley.worker import pool_size as workers_pool_size
from parley.worker import run_workers
from tests.conftest import TEST_MASTER_KEY, MakeDatabase
from tests.e2e.conftest import SECRET, Tokens, free_port
from tests.e2e.test_websocket import close_code, next_frame, socket, token_for
from tests.faultproxy import FaultProxy, fault_proxy

ANSWER_WITHIN = 5.0


@dataclass
class Outage:
    api: httpx.AsyncClient
    proxy: FaultProxy
    database_url: str


@pytest.fixture
async def outage(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str
) -> AsyncIterator[Outage]:
    database_url = await make_database()
    parts = urlsplit(database_url)
    if not parts.hostname or parts.port is None:
        pytest.skip("PostgreSQL is reached over a unix socket here: no TCP link to break")
    async with fault_proxy(parts.hostname, parts.port) as proxy:
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        # Server and workers in one pool, sized as `parley run` sizes it.
        size = SERVER_POOL_SIZE + workers_pool_size()
        pool = await connect_postgres(proxied, command_timeout=QUERY_TIMEOUT, max_size=size)
        nc = await nats.connect(nats_url)
        port = free_port()
        settings = Settings(
            jwt_secret=SECRET,
            http_port=port,
            nats_prefix=f"{nats_prefix}o",
            master_key=TEST_MASTER_KEY,
        )
        app = create_app(settings, pool=pool, nats=nc)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        serving = asyncio.create_task(server.serve())
        stop = asyncio.Event()
        working = asyncio.create_task(run_workers(settings, pool, nc, stop))
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.02)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=2 * QUERY_TIMEOUT + 5
            ) as api:
                yield Outage(api, proxy, database_url)
        finally:
            proxy.restore()
            stop.set()
            server.should_exit = True
            await asyncio.gather(serving, working)
            await nc.close()
            await asyncio.wait_for(pool.close(), 10)


async def _start(outage: Outage, tokens: Tokens) -> str:
    response = await outage.api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web", "priority": "Medium"},
        headers=tokens.admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def _send(
    outage: Outage, tokens: Tokens, conversation_id: str, client_message_id: str
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await outage.api.post(
        "/api/messages",
        json={
            "conversation_id": conversation_id,
            "content": "hello",
            "client_message_id": client_message_id,
        },
        headers=tokens.admin,
    )
    return response, time.monotonic() - started


async def _until_ready(outage: Outage, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while (ready := await outage.api.get("/health/ready")).status_code != 200:
        assert time.monotonic() < deadline, f"not ready within {within:g} s: {ready.text}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("fault", ["refuse", "freeze"])
async def test_commands_answer_503_with_retry_after_while_postgres_is_away(
    outage: Outage, tokens: Tokens, fault: str
) -> None:
    conversation_id = await _start(outage, tokens)
    await _until_ready(outage)

    outage.proxy.refuse() if fault == "refuse" else outage.proxy.freeze()
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*(_send(outage, tokens, conversation_id, key) for _ in range(5)))
    for response, took in answers:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        assert took < ANSWER_WITHIN
    # Queries too: 503, bounded (a statement's 5 s, and as long again for
    # asyncpg to give up on the frozen connection it then resets).
    started = time.monotonic()
    listed = await outage.api.get("/api/conversations", headers=tokens.admin)
    assert listed.status_code == 503, listed.text
    assert listed.json()["code"] == "unavailable" and "Retry-After" in listed.headers
    assert time.monotonic() - started < 2 * QUERY_TIMEOUT + 1
    ready = await outage.api.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["postgres"] != "ok"

    outage.proxy.restore()
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:  # the same message, retried as a client would
        response, _ = await _send(outage, tokens, conversation_id, key)
        if response.status_code == 201:
            break
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "commands did not recover within 5 s"
        await asyncio.sleep(0.2)
    await _until_ready(outage, within=ANSWER_WITHIN)

    # Sent once, however many times it was tried.
    conn = await asyncpg.connect(outage.database_url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM events "
            "WHERE type = 'MessageSent' AND data->>'conversation_id' = $1",
            conversation_id,
        )
    finally:
        await conn.close()
    assert count == 1


@pytest.mark.parametrize("path", ["conversation", "/ws/inbox"])
async def test_a_socket_opened_while_postgres_is_away_closes_1013_and_opens_after(
    outage: Outage, tokens: Tokens, path: str
) -> None:
    conversation_id = await _start(outage, tokens)
    path = f"/ws/{conversation_id}" if path == "conversation" else path
    params = {"after": 0} if path != "/ws/inbox" else {"after_position": 0}
    server_url = str(outage.api.base_url).rstrip("/")
    outage.proxy.freeze()
    # Try again later (1013), within the bound; never 1011.
    started = time.monotonic()
    async with socket(server_url, path, token_for("alice"), **params) as ws:
        assert await close_code(ws, timeout=2 * QUERY_TIMEOUT + 5) == 1013
    assert time.monotonic() - started < ANSWER_WITHIN + 2

    outage.proxy.restore()
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:
        async with socket(server_url, path, token_for("alice"), **params) as ws:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["type"] != "ERROR":  # the replay (from position 0), then READY
                await next_frame(ws, "READY")
                break
        assert time.monotonic() < deadline
