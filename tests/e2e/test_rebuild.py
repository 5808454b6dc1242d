"""Rebuilding a projection gives the same tables, while the read API keeps answering."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import nats
import uvicorn

from events.catalogue import Channel, Client, ConversationStarted, Priority, Status
from events.envelope import NewEvent
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore, create_pool
from parley.app import create_app
from parley.settings import Settings
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner
from projections.timeline import TimelineProjection
from tests.conftest import MakeDatabase
from tests.e2e.conftest import SECRET, Tokens, free_port
from tests.factories import message

CONVERSATIONS = 200
MESSAGES_PER_CONVERSATION = 500  # 100,000 messages in all


async def fill(store: PostgresEventStore) -> None:
    async def conversation() -> None:
        cid = uuid.uuid4()
        stream = f"conversation-{cid}"
        started = ConversationStarted(
            conversation_id=cid,
            client=Client(id=f"c-{cid.hex[:6]}", name="Bulk"),
            channel=Channel.WEB,
            priority=Priority.LOW,
            status=Status.ACTIVE,
        )
        await store.append(stream, [NewEvent(event_id=uuid.uuid4(), data=started)], 0)
        for first in range(1, MESSAGES_PER_CONVERSATION + 1, 100):
            batch = [message(cid, seq=s, content=f"bulk {s}") for s in range(first, first + 100)]
            await store.append(stream, batch, expected_version=first)

    await asyncio.gather(*(conversation() for _ in range(CONVERSATIONS)))


async def snapshot(pool: asyncpg.Pool, table: str, key: str) -> list[asyncpg.Record]:
    return list(await pool.fetch(f"SELECT * FROM {table} ORDER BY {key}"))


async def test_a_rebuild_equals_the_incremental_tables_and_reads_keep_working(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tokens: Tokens
) -> None:
    url = await make_database()
    pool = await create_pool(url, max_size=20)
    store = PostgresEventStore(pool)
    nc = await nats.connect(nats_url)
    await fill(store)
    head = await store.head_position()
    assert head >= 100_000
    for projection in (InboxProjection(), TimelineProjection()):
        runner = ProjectionRunner(projection, pool, store, None, Topology())  # type: ignore[arg-type]
        await runner.catch_up_from_store()
    before = {
        "conversations": await snapshot(pool, "conversations", "conversation_id"),
        "messages": await snapshot(pool, "messages", "conversation_id, seq"),
    }
    # Each row is at its stream's head: the start plus every message.
    assert {r["version"] for r in before["conversations"]} == {MESSAGES_PER_CONVERSATION + 1}

    port = free_port()
    settings = Settings(
        database_url=url,
        nats_url=nats_url,
        nats_prefix=f"{nats_prefix}rb",  # this run's own streams and buckets
        jwt_secret=SECRET,
        http_port=port,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, pool=pool, nats=nc), port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    statuses: list[int] = []
    rebuilt = asyncio.Event()
    cid = before["conversations"][0]["conversation_id"]

    async def read_while_rebuilding() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
            while not rebuilt.is_set():
                for path, params in (
                    ("/api/conversations", {"limit": 20}),
                    ("/api/messages", {"conversation_id": str(cid), "limit": 20}),
                ):
                    response = await api.get(path, params=params, headers=tokens.admin)
                    statuses.append(response.status_code)

    try:
        reader = asyncio.create_task(read_while_rebuilding())
        for projection in (InboxProjection(), TimelineProjection()):
            assert await rebuild(pool, store, projection) == head
        rebuilt.set()
        await reader
    finally:
        server.should_exit = True
        await serving
        await nc.close()

    assert len(statuses) > 10 and set(statuses) == {200}
    # Every column, version included, is identical after the rebuild.
    assert await snapshot(pool, "conversations", "conversation_id") == before["conversations"]
    assert await snapshot(pool, "messages", "conversation_id, seq") == before["messages"]
    assert await pool.fetchval("SELECT position FROM checkpoints WHERE name = 'inbox'") == head
    await store.close()
    await pool.close()
