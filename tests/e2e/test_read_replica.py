"""Reads from a streaming replica (issue 21): a real PostgreSQL primary and a
hot standby streaming from it (parley/pg_replication.py), `parley serve` and
`parley worker` on the primary with ``PARLEY_READ_DATABASE_URL`` naming the
replica. The read API's queries and the first page of a WebSocket replay
go to the replica (what it has not replayed yet, a socket gets from the
primary); a read with the
``min_position`` token waits for the replica's read models, so a write is
never missing from the read after it. When the replica stops, reads go to the
primary (the default) or are refused 503 ``replica_unavailable``
(``PARLEY_READ_FALLBACK=refuse``); when it is back, they return to it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import connect

from events.postgres.migrate import apply_migrations
from parley.pg_replication import PostgresNode, primary_and_replica
from parley.services import MIGRATION_FOLDERS
from tests.conftest import MakeDatabase
from tests.e2e.cluster import running_cluster
from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import token_for, ws_url

PAIRS = 500
FLIP_WITHIN = 10.0
"""Seconds within which reads follow the replica going away or coming back
(it is looked at once a second; a loaded machine is slower)."""


@asynccontextmanager
async def parley_on_a_replica(
    folder: Path, make_database: MakeDatabase, nats_url: str, nats_prefix: str, **settings: str
) -> AsyncIterator[tuple[httpx.AsyncClient, PostgresNode]]:
    """A primary and its replica, a migrated database on them, `parley serve`
    and `parley worker` reading from the replica; an HTTP client of the server."""
    with primary_and_replica(folder / "pg") as (primary, replica):
        admin = await asyncpg.connect(primary.url())
        try:
            await admin.execute("CREATE DATABASE parley")
        finally:
            await admin.close()
        conn = await asyncpg.connect(primary.url("parley"))
        try:
            await apply_migrations(conn, MIGRATION_FOLDERS)
        finally:
            await conn.close()
        env = {"PARLEY_READ_DATABASE_URL": replica.url("parley"), **settings}
        cluster = running_cluster(
            make_database, nats_url, nats_prefix, folder, env, 1, database_url=primary.url("parley")
        )
        async with cluster as [node], httpx.AsyncClient(base_url=node.url, timeout=30) as api:
            yield api, replica


async def replica_transactions(replica: PostgresNode) -> int:
    """Transactions the replica has run in the database ``parley``: reads."""
    conn = await asyncpg.connect(replica.url("parley"))
    try:
        query = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'parley'"
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def write_then_read(api: httpx.AsyncClient, tokens: Tokens, cid: str, text: str) -> bool:
    """Send a message, then read the newest with its position: is it there?"""
    sent = await api.post(
        "/api/messages", json={"conversation_id": cid, "content": text}, headers=tokens.client
    )
    assert sent.status_code == 201, sent.text
    ack = sent.json()
    params = {"conversation_id": cid, "limit": 1, "min_position": ack["position"], "wait": 10}
    page = await api.get("/api/messages", params=params, headers=tokens.admin)
    assert page.status_code == 200, page.text
    return [m["message_id"] for m in page.json()["items"]] == [ack["message_id"]]


async def replica_check(api: httpx.AsyncClient) -> tuple[int, str]:
    ready = await api.get("/health/ready")
    return ready.status_code, ready.json()["checks"]["replica"]


async def until(
    what: str, condition: Callable[[], Awaitable[bool]], timeout: float = FLIP_WITHIN
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout:g} s"
        await asyncio.sleep(0.1)


async def start_conversation(api: httpx.AsyncClient, tokens: Tokens) -> str:
    started = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    assert started.status_code == 201, started.text
    return str(started.json()["conversation_id"])


async def test_reads_come_from_the_replica_and_never_miss_the_write_before_them(
    tmp_path: Path, make_database: MakeDatabase, nats_url: str, nats_prefix: str, tokens: Tokens
) -> None:
    async with parley_on_a_replica(tmp_path, make_database, nats_url, nats_prefix) as (
        api,
        replica,
    ):
        assert await replica_check(api) == (200, "ok")
        cid = await start_conversation(api, tokens)
        before = await replica_transactions(replica)
        stale = [i for i in range(PAIRS) if not await write_then_read(api, tokens, cid, f"m{i}")]
        assert stale == []
        assert await replica_transactions(replica) - before >= PAIRS  # the reads ran there
        metrics = (await api.get("/metrics")).text
        assert 'parley_read_replica_up{replica="read"} 1.0' in metrics
        assert 'parley_read_replica_behind_bytes{replica="read"}' in metrics

        # The replica stops: reads go to the primary, and come back after it.
        replica.stop("immediate")

        async def on_the_primary() -> bool:
            return (await replica_check(api))[1] != "ok"

        await until("reading from the primary", on_the_primary)
        assert (await replica_check(api))[0] == 200  # ready: reads have somewhere to go
        assert await write_then_read(api, tokens, cid, "while the replica is away")
        assert 'parley_read_replica_up{replica="read"} 0.0' in (await api.get("/metrics")).text

        replica.start()

        async def back() -> bool:
            return await replica_check(api) == (200, "ok")

        await until("reading from the replica again", back)
        before = await replica_transactions(replica)
        assert await write_then_read(api, tokens, cid, "the replica is back")
        assert await replica_transactions(replica) > before


async def test_with_no_fallback_reads_are_refused_while_the_replica_is_away(
    tmp_path: Path, make_database: MakeDatabase, nats_url: str, nats_prefix: str, tokens: Tokens
) -> None:
    settings = {"PARLEY_READ_FALLBACK": "refuse"}
    async with parley_on_a_replica(tmp_path, make_database, nats_url, nats_prefix, **settings) as (
        api,
        replica,
    ):
        cid = await start_conversation(api, tokens)
        replica.stop("immediate")

        async def refused() -> bool:
            return await replica_check(api) != (200, "ok")

        await until("refusing reads", refused)
        status, check = await replica_check(api)
        assert status == 503 and check.startswith("not answering")
        inbox = await api.get("/api/conversations", headers=tokens.admin)
        assert inbox.status_code == 503
        assert inbox.json()["code"] == "replica_unavailable"
        assert inbox.headers["retry-after"] == "1"
        # Writes do not need the replica.
        sent = await api.post(
            "/api/messages", json={"conversation_id": cid, "content": "hi"}, headers=tokens.client
        )
        assert sent.status_code == 201

        replica.start()

        async def back() -> bool:
            return await replica_check(api) == (200, "ok")

        await until("reading from the replica again", back)
        assert await write_then_read(api, tokens, cid, "back")


async def replayed_seqs(url: str, cid: str, count: int) -> list[int]:
    """Open a socket on the conversation from its start; the seqs of the first
    ``count`` messages it gets."""
    seqs: list[int] = []
    async with connect(ws_url(url, f"/ws/{cid}", token_for("replayer"))) as ws:
        async with asyncio.timeout(30):
            while len(seqs) < count:
                frame = json.loads(await ws.recv())
                if frame["type"] == "MESSAGE_CREATED":
                    seqs.append(frame["seq"])
    return seqs


async def test_a_socket_replays_from_the_replica_and_what_it_lags_from_the_primary(
    tmp_path: Path, make_database: MakeDatabase, nats_url: str, nats_prefix: str, tokens: Tokens
) -> None:
    async with parley_on_a_replica(tmp_path, make_database, nats_url, nats_prefix) as (
        api,
        replica,
    ):
        cid = await start_conversation(api, tokens)
        for i in range(30):
            assert await write_then_read(api, tokens, cid, f"m{i}")
        before = await replica_transactions(replica)
        assert await replayed_seqs(str(api.base_url), cid, 30) == list(range(1, 31))
        assert await replica_transactions(replica) > before  # the replay read the replica

        # The replica stops replaying: it lags the primary by 20 messages,
        # which a new socket gets from the primary, after the replica's 30.
        conn = await asyncpg.connect(replica.url("parley"))
        try:
            await conn.execute("SELECT pg_wal_replay_pause()")
            for i in range(30, 50):
                sent = await api.post(
                    "/api/messages",
                    json={"conversation_id": cid, "content": f"m{i}"},
                    headers=tokens.client,
                )
                assert sent.status_code == 201
            assert await replayed_seqs(str(api.base_url), cid, 50) == list(range(1, 51))
        finally:
            await conn.execute("SELECT pg_wal_replay_resume()")
            await conn.close()
