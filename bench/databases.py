"""Throwaway databases, dropped at the end whatever happens (an error, Ctrl-C),
the events the benchmarks write straight to a store, and conversations created
through the API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID, uuid4

import asyncpg
import httpx

from bench.common import log
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent
from events.postgres.migrate import apply_migrations


def started(conversation_id: UUID, client_id: str, name: str) -> ConversationStarted:
    facts: dict[str, Any] = {"channel": Channel.WEB, "priority": Priority.MEDIUM}
    facts["status"] = Status.ACTIVE
    client = Client(id=client_id, name=name)
    return ConversationStarted(conversation_id=conversation_id, client=client, **facts)


def sent(conversation_id: UUID, seq: int, side: Side, sender_id: str, content: str) -> MessageSent:
    ids: dict[str, Any] = {"conversation_id": conversation_id, "message_id": uuid4()}
    return MessageSent(**ids, seq=seq, sender=side, sender_id=sender_id, content=content)


def new(data: Any, metadata: Metadata) -> NewEvent:
    return NewEvent(event_id=uuid4(), data=data, metadata=metadata)


def with_database(url: str, database: str, **params: str) -> str:
    """The same server URL, pointing at another database (and extra parameters)."""
    parts = urlsplit(url)
    query = urlencode({**dict(parse_qsl(parts.query)), **params})
    return urlunsplit(parts._replace(path=f"/{database}", query=query))


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextlib.asynccontextmanager
async def throwaway_database(
    admin_url: str, prefix: str, migrations: Sequence[Path] = ()
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A new database ``<prefix>_<hex>`` with ``migrations`` applied (its URL, and the
    server facts a report prints), dropped on the way out whatever happens."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(admin_url, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(f"cannot connect to --database-url {admin_url}: {error}") from None
    settings = ("server_version", "synchronous_commit", "fsync", "wal_sync_method")
    facts = {s: str(await conn.fetchval(f"SHOW {s}")) for s in (*settings, "shared_buffers")}
    await conn.execute(f"CREATE DATABASE {quote(name)}")
    await conn.close()
    url = with_database(admin_url, name)
    try:
        if migrations:
            conn = await asyncpg.connect(url)
            await apply_migrations(conn, migrations)
            await conn.close()
        log(f"database {name} created" + (" and migrated" if migrations else ""))
        yield url, facts
    finally:
        conn = await asyncpg.connect(admin_url, timeout=10)
        await conn.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
        await conn.close()
        log(f"database {name} dropped")


async def create_conversations(base_url: str, jwt: str, count: int) -> list[str]:
    """``count`` conversations through ``POST /api/conversations`` (8 at a time)."""
    gate, headers = asyncio.Semaphore(8), {"Authorization": f"Bearer {jwt}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as client:

        async def one(i: int) -> str:
            async with gate:
                body = {"client": {"id": f"c-{i}", "name": f"Client {i}"}, "channel": "web"}
                response = await client.post("/api/conversations", json=body)
            if response.status_code != 201:
                raise RuntimeError(
                    f"POST /api/conversations: {response.status_code} {response.text}"
                )
            return str(response.json()["conversation_id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))
