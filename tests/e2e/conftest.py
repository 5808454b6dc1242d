"""A real Parley HTTP server (uvicorn on a free port) and its workers (relay and
projections) over this run's database and NATS, and tokens to call it with."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import nats
import pytest
import uvicorn

from commands.auth import issue_token
from parley.app import create_app
from parley.settings import Settings
from parley.worker import run_workers
from tests.conftest import TEST_MASTER_KEY

SECRET = "test-secret-that-is-at-least-32-bytes-long"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Tokens:
    """Authorization headers for the callers the tests play."""

    admin: dict[str, str]
    agent: dict[str, str]
    client: dict[str, str]  # client c-1
    other_client: dict[str, str]  # client c-2
    bad_signature: dict[str, str]
    alg_none: dict[str, str]
    expired: dict[str, str]


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    now = datetime.now(UTC)
    hour = timedelta(hours=1)

    def token(sub: str, role: str, client_id: str | None = None, secret: str = SECRET) -> str:
        return issue_token(secret, sub=sub, role=role, client_id=client_id, ttl=hour, now=now)

    expired = issue_token(
        SECRET, sub="alice", role="admin", ttl=timedelta(minutes=5), now=now - 2 * hour
    )
    claims = {"sub": "alice", "role": "admin", "exp": int((now + hour).timestamp())}
    return Tokens(
        admin=bearer(token("alice", "admin")),
        agent=bearer(token("bob", "agent")),
        client=bearer(token("carol", "client", "c-1")),
        other_client=bearer(token("mallory", "client", "c-2")),
        bad_signature=bearer(token("alice", "admin", secret="another-secret-also-32-bytes-long!!")),
        alg_none=bearer(_unsigned(claims)),
        expired=bearer(expired),
    )


@pytest.fixture(scope="session")
async def server_url(
    pool: asyncpg.Pool, database_url: str, nats_url: str, nats_prefix: str
) -> AsyncIterator[str]:
    port = free_port()
    settings = Settings(
        database_url=database_url,
        nats_url=nats_url,
        jwt_secret=SECRET,
        master_key=TEST_MASTER_KEY,
        http_port=port,
        nats_prefix=nats_prefix,
    )
    nc = await nats.connect(nats_url)
    app = create_app(settings, pool=pool, nats=nc)
    # As `parley serve` runs it: the edge's HEARTBEAT is the one liveness check.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_ping_interval=None,
        ws_ping_timeout=None,
        timeout_graceful_shutdown=10,  # as `parley serve`: a socket left open cannot hold it
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    working = asyncio.create_task(run_workers(settings, pool, nc, stop))
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    stop.set()
    server.should_exit = True
    try:
        async with asyncio.timeout(60):  # bounded: a hang here would end the run unreported
            await asyncio.gather(serving, working)
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.__stderr__)
        raise AssertionError("the test server did not stop within 60 s (stacks above)") from None
    finally:
        await nc.close()


READ_YOUR_WRITES_WAIT = "10"
"""How long a read with ``min_position`` may wait for the read models here
(the API's default is 2 s, its most 10): one module's burst of writes can
keep the shared worker's projections behind for longer on a loaded machine."""


async def _patient(request: httpx.Request) -> None:
    """A read-your-writes read waits up to the API's most unless it says otherwise."""
    params = request.url.params
    if "min_position" in params and "wait" not in params:
        request.url = request.url.copy_merge_params({"wait": READ_YOUR_WRITES_WAIT})


@pytest.fixture
async def api(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100)
    hooks = {"request": [_patient]}
    async with httpx.AsyncClient(
        base_url=server_url, limits=limits, timeout=30, event_hooks=hooks
    ) as client:
        yield client
