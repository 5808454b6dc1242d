"""``parley privacy export`` and ``erase`` as an operator runs them: against a
real database, with the deployment's master key (docs/PRIVACY.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest

from events.catalogue import Channel, Client, ConversationStarted, Priority, Status
from events.envelope import NewEvent
from events.jetstream.topology import Topology
from events.postgres.keys import ClientKeys
from events.postgres.master_keys import MasterKey
from events.postgres.store import PostgresEventStore, create_pool
from events.sealing import ERASED
from parley.worker import projections
from projections.runner import ProjectionRunner
from tests.conftest import MakeDatabase
from tests.e2e.test_cli_errors import assert_one_line_error, parley
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


async def chat(store: PostgresEventStore, client_id: str, text: str) -> uuid.UUID:
    """A conversation of ``client_id``, whose name holds MARKER, and one message."""
    cid = uuid.uuid4()
    start = ConversationStarted(
        conversation_id=cid,
        client=Client(id=client_id, name=f"Name {MARKER}"),
        channel=Channel.EMAIL,
        priority=Priority.HIGH,
        status=Status.ACTIVE,
    )
    said = msgspec.structs.replace(message(cid, content=text), subject=client_id)
    await store.append(
        f"conversation-{cid}", [NewEvent(event_id=uuid.uuid4(), data=start), said], 0
    )
    return cid


async def test_an_operator_exports_then_erases_a_client(
    database: tuple[str, asyncpg.Pool],
) -> None:
    url, pool = database
    keys = ClientKeys(pool, MasterKey(KEY))
    store = PostgresEventStore(pool, keys=keys)
    cid = await chat(store, "cli-1", f"{MARKER} says hi")
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


async def test_an_operator_rotates_the_master_key(
    database: tuple[str, asyncpg.Pool], tmp_path: Path
) -> None:
    url, pool = database
    keys = ClientKeys(pool, MasterKey(KEY))
    store = PostgresEventStore(pool, keys=keys)
    await chat(store, "cli-2", f"{MARKER} rotates")
    await project(pool, keys, store)
    await store.close()
    assert (await privacy("export", "--client-id", "cli-2", url=url)).returncode == 0
    new, key_file = bytes(range(150, 182)), tmp_path / "new.key"
    key_file.write_text(base64.b64encode(new).decode() + "\n")

    rotated = await privacy("rotate-master-key", "--new-key-file", str(key_file), url=url)
    assert rotated.returncode == 0, rotated.stderr
    assert "1 data key(s) re-wrapped" in rotated.stdout and "PARLEY_MASTER_KEY" in rotated.stdout
    exported = await privacy("export", "--client-id", "cli-2", url=url, key=new)
    assert exported.returncode == 0 and exported.stdout.count(MARKER) == 2
    stale = await privacy("export", "--client-id", "cli-2", url=url)
    assert stale.returncode == 1 and "not the master key" in stale.stderr
    again = await privacy("rotate-master-key", "--new-key-file", str(key_file), url=url, key=new)
    assert_one_line_error(again, "the new master key is the current one")
    key_file.write_text("not a key\n")
    bad = await privacy("rotate-master-key", "--new-key-file", str(key_file), url=url, key=new)
    assert_one_line_error(bad, f"{key_file}: not a master key")


async def test_a_data_folder_key_is_replaced_in_its_file(
    database: tuple[str, asyncpg.Pool], tmp_path: Path
) -> None:
    url, _ = database
    folder = {"PARLEY_DATABASE_URL": url, "PARLEY_DATA_DIR": str(tmp_path / "data")}
    first = await asyncio.to_thread(parley, "privacy", "export", "--client-id", "x", env=folder)
    assert first.returncode == 1 and "holds no data" in first.stderr  # the key file is made
    key_file = tmp_path / "new.key"
    key_file.write_text(base64.b64encode(bytes(range(7, 39))).decode())
    rotate = ("privacy", "rotate-master-key", "--new-key-file", str(key_file))
    rotated = await asyncio.to_thread(parley, *rotate, env=folder)
    assert rotated.returncode == 0, rotated.stderr
    assert "0 data key(s) re-wrapped" in rotated.stdout
    kept = tmp_path / "data" / "master.key"
    assert base64.b64decode(kept.read_text()) == bytes(range(7, 39))
    assert kept.stat().st_mode & 0o777 == 0o600
    after = await asyncio.to_thread(parley, "privacy", "export", "--client-id", "x", env=folder)
    assert after.returncode == 1 and "holds no data" in after.stderr  # the new key is accepted
