"""An in-memory snapshot store: the SnapshotStore port beside the in-memory
event store, passing the same contract suite as PostgreSQL
(``tests/integration/snapshot_store_contract.py``)."""

from __future__ import annotations

from events.snapshots import Snapshot
from tests.fakes.memory_store import MemoryEventStore


class MemorySnapshotStore:
    """One snapshot per stream, checked against ``events`` as PostgreSQL checks
    its ``events`` table."""

    def __init__(self, events: MemoryEventStore) -> None:
        self._events = events
        self.snapshots: dict[str, Snapshot] = {}
        """What is stored, by stream (a test may delete any)."""

    async def load(self, stream_id: str, schema_version: int) -> Snapshot | None:
        snapshot = self.snapshots.get(stream_id)
        if snapshot is None or snapshot.schema_version != schema_version:
            return None
        if snapshot.version > await self._events.stream_version(stream_id):
            return None
        return snapshot

    async def save(self, snapshot: Snapshot) -> bool:
        at = await self._events.read_stream(snapshot.stream_id, after=snapshot.version - 1, limit=1)
        if not at or (at[0].stream_position, at[0].global_position) != (
            snapshot.version,
            snapshot.position,
        ):
            return False
        stored = self.snapshots.get(snapshot.stream_id)
        if (
            stored is not None
            and stored.schema_version == snapshot.schema_version
            and stored.version >= snapshot.version
        ):
            return False
        self.snapshots[snapshot.stream_id] = snapshot
        return True
