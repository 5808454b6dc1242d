"""What the benchmark scripts set up: a throwaway database per run, on the
server the admin URL names, dropped at the end whatever happens (an error,
Ctrl-C); conversations created through the API."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import httpx

from events.postgres.migrate import apply_migrations


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def with_database(url: str, database: str, **params: str) -> str:
    """The same server URL, pointing at another database (and extra parameters)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(path=f"/{database}", query=urlencode(query)))


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextlib.asynccontextmanager
async def throwaway_database(
    admin_url: str, prefix: str, migrations: Sequence[Path] = ()
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A new database ``<prefix>_<hex>`` with ``migrations`` applied (its URL,
    and the server facts a report prints), dropped on the way out."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(admin_url, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(f"cannot connect to --database-url {admin_url}: {error}") from None
    try:
        facts = {"server_version": str(await conn.fetchval("SHOW server_version"))}
        for setting in ("synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"):
            facts[setting] = str(await conn.fetchval(f"SHOW {setting}"))
        await conn.execute(f"CREATE DATABASE {quote(name)}")
    finally:
        await conn.close()
    url = with_database(admin_url, name)
    try:
        if migrations:
            conn = await asyncpg.connect(url)
            try:
                await apply_migrations(conn, migrations)
            finally:
                await conn.close()
        log(f"database {name} created" + (" and migrated" if migrations else ""))
        yield url, facts
    finally:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
        finally:
            await conn.close()
        log(f"database {name} dropped")


async def create_conversations(base_url: str, token: str, count: int) -> list[str]:
    """``count`` conversations through ``POST /api/conversations`` (8 at a time)."""
    gate = asyncio.Semaphore(8)
    headers = {"Authorization": f"Bearer {token}"}
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
