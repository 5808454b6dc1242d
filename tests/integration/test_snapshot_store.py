"""PostgresSnapshotStore against a real PostgreSQL: the contract, plus what
only the database can show (a row ahead of the log, put there by hand, is
never loaded; the rows may be deleted at will)."""

from __future__ import annotations

import asyncpg
import pytest

from events.postgres.snapshots import PostgresSnapshotStore
from events.postgres.store import PostgresEventStore
from events.snapshots import SnapshotStore
from tests.factories import messages
from tests.integration.snapshot_store_contract import SnapshotStoreContract, snapshot, stream_of


@pytest.fixture
def snapshots(pool: asyncpg.Pool) -> PostgresSnapshotStore:
    return PostgresSnapshotStore(pool)


def test_it_implements_the_port(pool: asyncpg.Pool) -> None:
    assert isinstance(PostgresSnapshotStore(pool), SnapshotStore)


class TestPostgresSnapshotStore(SnapshotStoreContract):
    pass


async def test_a_row_ahead_of_the_log_is_never_loaded(
    store: PostgresEventStore, snapshots: PostgresSnapshotStore, pool: asyncpg.Pool
) -> None:
    # Say an operator restored the events from an older backup than the snapshots.
    stream, positions = await stream_of(store, 2)
    await pool.execute(
        "INSERT INTO snapshots (stream_id, version, global_position, schema_version, state)"
        " VALUES ($1, 3, $2, 1, 'ahead')",
        stream,
        positions[-1] + 1,
    )

    assert await snapshots.load(stream, 1) is None

    # Once the stream reaches that version, it is no longer ahead.
    await store.append(stream, messages(1), expected_version=2)
    loaded = await snapshots.load(stream, 1)
    assert loaded is not None and (loaded.version, loaded.state) == (3, b"ahead")


async def test_snapshots_may_be_deleted_at_will(
    store: PostgresEventStore, snapshots: PostgresSnapshotStore, pool: asyncpg.Pool
) -> None:
    stream, positions = await stream_of(store, 2)
    await snapshots.save(snapshot(stream, positions, 2))

    await pool.execute("DELETE FROM snapshots WHERE stream_id = $1", stream)

    assert await snapshots.load(stream, 1) is None
    assert await snapshots.save(snapshot(stream, positions, 1))
