"""PostgresSnapshotStore: the snapshot store port (events/snapshots.py) on the
event store's own database, table ``snapshots`` (migrations/005_snapshots.sql).

Both promises about the log are kept by the statements themselves: a save
inserts only when the stream's event at the snapshot's version is stored
with the snapshot's global position, and a load compares the version with
the stream's head (both index probes on ``events``). One row per stream: an
upsert replaces it only with a newer version or another schema.
"""

from __future__ import annotations

import asyncpg

from events.postgres.pool import bounded_connection
from events.snapshots import Snapshot

_LOAD = """
SELECT version, global_position, state FROM snapshots
WHERE stream_id = $1 AND schema_version = $2
  AND version <= (SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $1)
"""

_SAVE = """
INSERT INTO snapshots AS s (stream_id, version, global_position, schema_version, state)
SELECT $1, $2, $3, $4, $5
WHERE EXISTS (
    SELECT FROM events WHERE stream_id = $1 AND stream_position = $2 AND global_position = $3
)
ON CONFLICT (stream_id) DO UPDATE
SET version = excluded.version, global_position = excluded.global_position,
    schema_version = excluded.schema_version, state = excluded.state,
    taken_at = clock_timestamp()
WHERE s.version < excluded.version OR s.schema_version <> excluded.schema_version
"""


class PostgresSnapshotStore:
    """The :class:`events.snapshots.SnapshotStore` port on PostgreSQL; every
    statement answers within ``timeout`` seconds or raises
    :class:`~events.store.StoreUnavailable`."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float = 2.0) -> None:
        self._pool = pool
        self._timeout = timeout

    async def load(self, stream_id: str, schema_version: int) -> Snapshot | None:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            row = await conn.fetchrow(_LOAD, stream_id, schema_version, timeout=left())
        if row is None:
            return None
        return Snapshot(
            stream_id=stream_id,
            version=row["version"],
            position=row["global_position"],
            schema_version=schema_version,
            state=row["state"],
        )

    async def save(self, snapshot: Snapshot) -> bool:
        s = snapshot
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            status = await conn.execute(
                _SAVE,
                s.stream_id,
                s.version,
                s.position,
                s.schema_version,
                s.state,
                timeout=left(),
            )
        return bool(status == "INSERT 0 1")
