"""``parley privacy export`` and ``erase`` as an operator runs them: against a
real database, with the deployment's master key (docs/PRIVACY.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.catalogue import Channel, Client, ConversationStarted, Priority, Status
from events.envelope import NewEvent
from events.jetstream.topology import Topology
from events.postgres.keys import ClientKeys, MasterKey
from events.postgres.store import PostgresEventStore, create_pool
from events.sealing import ERASED
from parley.worker import projections
from projections.runner import ProjectionRunner
from tests.conftest import MakeDatabase
from tests.e2e.test_cli_errors import parley
from tests.factories import message

KEY = bytes(range(100, 132))
MARKER = f"Cli{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def database(make_database: MakeDatabase) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    url = await make_database()
    pool = await create_pool(url, max_size=8)
    yield url, pool
    await pool.close()


def env(url: str, key: bytes = KEY) -> dict[str, str]:
    return {"PARLEY_DATABASE_URL": url, "PARLEY_MASTER_KEY": base64.b64encode(key).decode()}


async def privacy(*args: str, url: str, key: bytes = KEY) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(parley, "privacy", *args, env=env(url, key))


async def project(pool: asyncpg.Pool, keys: ClientKeys, store: PostgresEventStore) -> None:
    """What a worker would do: every read model caught up with the log."""
    for projection in projections():
        runner = ProjectionRunner(projection, pool, store, None, Topology(), keys=keys)  # type: ignore[arg-type]
        await runner.catch_up_from_store()


async def test_an_operator_exports_then_erases_a_client(
    database: tuple[str, asyncpg.Pool],
) -> None:
    url, pool = database
    keys = ClientKeys(pool, MasterKey(KEY))
    store = PostgresEventStore(pool, keys=keys)
    cid = uuid.uuid4()
    start = ConversationStarted(
        conversation_id=cid,
        client=Client(id="cli-1", name=f"Name {MARKER}"),
        channel=Channel.EMAIL,
        priority=Priority.HIGH,
        status=Status.ACTIVE,
    )
    said = message(cid, content=f"{MARKER} says hi")
    said = NewEvent(event_id=said.event_id, data=said.data, subject="cli-1")
    await store.append(
        f"conversation-{cid}", [NewEvent(event_id=uuid.uuid4(), data=start), said], 0
    )
    await project(pool, keys, store)

    exported = await privacy("export", "--client-id", "cli-1", url=url)
    assert exported.returncode == 0, exported.stderr
    body = json.loads(exported.stdout)
    assert [c["stream_id"] for c in body["conversations"]] == [f"conversation-{cid}"]
    assert exported.stdout.count(MARKER) == 2 and body["privacy"] == []

    erased = await privacy("erase", "--client-id", "cli-1", "--wait", "1", url=url)
    assert erased.returncode == 0, erased.stderr
    assert (
        "client cli-1 erased at position 3: 1 key(s) destroyed, 1 conversation(s)" in erased.stdout
    )
    assert "not all caught up" in erased.stdout  # no worker: the projections get there later
    await project(pool, keys, store)
    row = await pool.fetchrow(
        "SELECT client_name FROM conversations WHERE conversation_id = $1", cid
    )
    assert row is not None and row["client_name"] == ERASED

    again = await privacy("export", "--client-id", "cli-1", url=url)
    assert again.returncode == 0 and MARKER not in again.stdout
    body = json.loads(again.stdout)
    assert [e["type"] for e in body["privacy"]] == ["ClientErased"]
    assert body["data_keys"][0]["erased_at"] is not None

    verified = await asyncio.to_thread(parley, "events", "verify", env=env(url))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    dump = await pool.fetch("SELECT data::text FROM events")
    assert not any(MARKER in r[0] for r in dump)
    await store.close()


async def test_another_master_key_is_refused_with_one_line(
    database: tuple[str, asyncpg.Pool],
) -> None:
    url, _ = database
    assert (await privacy("export", "--client-id", "nobody", url=url)).returncode == 1
    wrong = await privacy("export", "--client-id", "nobody", url=url, key=bytes(32))
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "PARLEY_MASTER_KEY is not the master key" in wrong.stderr
    unknown = await privacy("export", "--client-id", "nobody", url=url)
    assert unknown.returncode == 1 and "holds no data about client 'nobody'" in unknown.stderr
