"""Real `parley serve` processes (and one `parley worker`) behind one NATS, on
a fresh database: for what only several real processes show (fan-out across
nodes, presence, heartbeats, shutdown, access logs)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import MakeDatabase
from tests.e2e.conftest import SECRET, Tokens, free_port

PARLEY = str(Path(sys.executable).with_name("parley"))


@dataclass
class Node:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _spawn(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [PARLEY, command], env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT
        )


START_WITHIN = 60.0
"""Seconds a process may take to answer /health/live: importing the app alone
takes seconds on a machine whose cores are busy."""


async def _live(client: httpx.AsyncClient, node: Node) -> None:
    """Wait until ``node`` answers /health/live; fail at once if it exited."""
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline and node.process.poll() is None:
        try:
            if (await client.get(f"{node.url}/health/live")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    pytest.fail(f"{node.url} did not start: {node.log.read_text()[-2000:]}")


@asynccontextmanager
async def running_cluster(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    logs: Path,
    settings: dict[str, str],
    nodes: int = 2,
    *,
    database_url: str | None = None,
    prefix: str | None = None,
) -> AsyncIterator[list[Node]]:
    """``nodes`` serve processes and one worker with these PARLEY_* ``settings``,
    each in its own NATS prefix; all stopped (SIGTERM, then SIGKILL) at the end.
    A test that looks into the database or the stream itself passes its own
    ``database_url`` (migrated) and full NATS ``prefix``."""
    env = {
        "PARLEY_DATABASE_URL": database_url or await make_database(),
        "PARLEY_NATS_URL": nats_url,
        "PARLEY_NATS_PREFIX": prefix or f"{nats_prefix}n{uuid.uuid4().hex[:6]}",
        "PARLEY_JWT_SECRET": SECRET,
        **settings,
    }
    ports = [free_port() for _ in range(nodes)]
    processes = [
        _spawn("serve", {**env, "PARLEY_HTTP_PORT": str(p)}, logs / f"serve-{p}.log") for p in ports
    ]
    processes.append(_spawn("worker", env, logs / "worker.log"))
    cluster = [
        Node(f"http://127.0.0.1:{p}", proc, logs / f"serve-{p}.log")
        for p, proc in zip(ports, processes, strict=False)
    ]
    try:
        async with httpx.AsyncClient() as client:
            for node in cluster:
                await _live(client, node)
        yield cluster
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def ws(node: Node, path: str, token: str, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
    return f"{node.url.replace('http', 'ws', 1)}{path}?{query}"


async def start_on(node: Node, tokens: Tokens, client_id: str = "c-1") -> str:
    async with httpx.AsyncClient(base_url=node.url) as api:
        response = await api.post(
            "/api/conversations",
            json={"client": {"id": client_id, "name": "Carol"}, "channel": "web"},
            headers=tokens.admin,
        )
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])
