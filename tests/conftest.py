"""Test harness: real PostgreSQL and NATS, isolated per test run.

Services are found in this order: ``PARLEY_TEST_DATABASE_URL`` /
``PARLEY_TEST_NATS_URL``; else PostgreSQL on 127.0.0.1:5432 and NATS on
127.0.0.1:4222 when they answer; else embedded servers started from the PyPI
wheels for this run. Every run creates its own database (random name) and
drops it at the end; NATS streams and subjects carry a per-run prefix and are
deleted at the end.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest

from events.postgres.keys import ClientKeys
from events.postgres.master_keys import MasterKey
from events.postgres.migrate import apply_migrations
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from tests.drop_databases import drop_on
from tests.hang_guard import hang_guard  # noqa: F401  (autouse: every test)

RUN_ID = uuid.uuid4().hex[:10]

TEST_MASTER_KEY = bytes(range(32))
"""The master key of every Parley the tests run, in this process (``Settings``)
and in the processes they start (``PARLEY_MASTER_KEY``, inherited or passed)."""
MASTER_KEY_ENV = {"PARLEY_MASTER_KEY": base64.b64encode(TEST_MASTER_KEY).decode()}
os.environ.update(MASTER_KEY_ENV)


def keyed_store(pool: asyncpg.Pool) -> PostgresEventStore:
    """A store reading (and sealing) as the Parley under test does: with its master key."""
    return PostgresEventStore(pool, keys=ClientKeys(pool, MasterKey(TEST_MASTER_KEY)))


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def _embedded() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def _embedded_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="parley-test-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def postgres_server_url(_embedded_dir: Path, _embedded: ExitStack) -> str:
    """A URL of a PostgreSQL server this run may create databases on."""
    if url := os.environ.get("PARLEY_TEST_DATABASE_URL"):
        return url
    if _answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    from parley.embedded import embedded_postgres

    return _embedded.enter_context(embedded_postgres(_embedded_dir / "pg"))


@pytest.fixture(scope="session")
def nats_url(_embedded_dir: Path, _embedded: ExitStack) -> str:
    if url := os.environ.get("PARLEY_TEST_NATS_URL"):
        return url
    if _answers("127.0.0.1", 4222):
        return "nats://127.0.0.1:4222"
    from parley.embedded import embedded_nats

    return _embedded.enter_context(embedded_nats(_embedded_dir / "nats"))


@pytest.fixture(scope="session")
def nats_prefix(nats_url: str) -> Iterator[str]:
    """Prefix for this run's JetStream stream names and subjects; what carries it
    is deleted at the end of the run."""
    prefix = f"t{RUN_ID}"
    yield prefix

    async def cleanup() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            for info in await js.streams_info():
                name = (info.config.name or "").lower()
                # KV_<PREFIX>_PRESENCE: the presence bucket's stream
                if name.startswith(prefix) or name.startswith(f"kv_{prefix}"):
                    await js.delete_stream(info.config.name or name)
        finally:
            await nc.close()

    import asyncio

    asyncio.run(cleanup())


MakeDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
async def make_database(postgres_server_url: str) -> AsyncIterator[MakeDatabase]:
    """Creates a fresh, migrated database with a random name; all of them are
    dropped when the run ends."""
    admin = await asyncpg.connect(postgres_server_url)
    created: list[str] = []

    async def make() -> str:
        name = f"parley_test_{RUN_ID}_{len(created)}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = with_database(postgres_server_url, name)
        conn = await asyncpg.connect(url)
        try:
            await apply_migrations(conn, MIGRATION_FOLDERS)
        finally:
            await conn.close()
        return url

    try:
        yield make
    finally:
        await _drop_all(admin, postgres_server_url, created)


async def _drop_all(admin: asyncpg.Connection, url: str, names: list[str]) -> None:
    """Drop the run's databases here, within a minute. On PostgreSQL 15 every
    DROP DATABASE forces an immediate checkpoint (``checkpoints_req`` counts
    one per drop, none per create), so the first drop writes out every
    buffer the whole run dirtied: on a loaded machine that took a minute or
    more. The server's backends are then printed and the drops finish in a
    process of their own (tests/drop_databases.py) while this run ends."""
    dropping = asyncio.ensure_future(drop_on(admin, names, timeout=3600))
    if (await asyncio.wait({dropping}, timeout=60))[0]:
        dropping.result()
        await admin.close()
        return
    await _print_what_holds_the_drop(url)
    admin.terminate()  # no cancel: the server finishes the drop it is in
    await asyncio.wait({dropping}, timeout=5)
    if dropping.done():
        dropping.exception()  # the connection went away under it
    await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.drop_databases", url, *names,
        start_new_session=True,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _print_what_holds_the_drop(url: str) -> None:
    """Every other backend of the server, what it waits on and who blocks whom
    (a drop timed out: for the next reader of the log)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT pid, datname, backend_type, state, wait_event_type, wait_event,"
            " pg_blocking_pids(pid) AS blocked_by, left(query, 120) AS query"
            " FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
            timeout=10,
        )
    finally:
        await conn.close()
    for row in rows:
        print(f"  backend {dict(row)}", file=sys.__stderr__)


@pytest.fixture(scope="session")
async def database_url(make_database: MakeDatabase) -> str:
    """This run's own migrated database."""
    return await make_database()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The run's shared pool. Closing it waits for every connection to come
    back, so a connection never given back would hang the end of the run
    unreported: the close is bounded."""
    pool = await create_pool(database_url, min_size=2, max_size=40)
    yield pool
    held = pool.get_size() - pool.get_idle_size()
    try:
        async with asyncio.timeout(30):
            await pool.close()
    except TimeoutError:
        pool.terminate()
        raise AssertionError(f"{held} connection(s) of the session pool never came back") from None


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(pool)
    yield store
    await store.close()
