"""The snapshot store contract (events/snapshots.py): what every backend
must do. Written once against the port; a backend gets it by subclassing and
providing ``store`` (its event store) and ``snapshots`` fixtures."""

from __future__ import annotations

from events.snapshots import Snapshot, SnapshotStore
from events.store import EventStore
from tests.factories import messages, new_stream_id


async def stream_of(store: EventStore, length: int) -> tuple[str, list[int]]:
    """A new stream of ``length`` events, and their global positions."""
    stream = new_stream_id()
    result = await store.append(stream, messages(length), expected_version=0)
    return stream, list(result.global_positions)


def snapshot(stream: str, positions: list[int], version: int, schema: int = 1) -> Snapshot:
    state = f"state at {version}, schema {schema}".encode()
    return Snapshot(
        stream_id=stream,
        version=version,
        position=positions[version - 1],
        schema_version=schema,
        state=state,
    )


class SnapshotStoreContract:
    async def test_a_saved_snapshot_loads_back(
        self, store: EventStore, snapshots: SnapshotStore
    ) -> None:
        stream, positions = await stream_of(store, 3)

        assert await snapshots.save(snapshot(stream, positions, 2))

        assert await snapshots.load(stream, 1) == snapshot(stream, positions, 2)

    async def test_a_stream_without_one_has_none(
        self, store: EventStore, snapshots: SnapshotStore
    ) -> None:
        stream, _ = await stream_of(store, 3)

        assert await snapshots.load(stream, 1) is None
        assert await snapshots.load(new_stream_id(), 1) is None

    async def test_a_snapshot_of_another_schema_is_not_loaded(
        self, store: EventStore, snapshots: SnapshotStore
    ) -> None:
        stream, positions = await stream_of(store, 3)
        await snapshots.save(snapshot(stream, positions, 3, schema=1))

        assert await snapshots.load(stream, 2) is None

    async def test_a_newer_snapshot_replaces_an_older_one_never_the_reverse(
        self, store: EventStore, snapshots: SnapshotStore
    ) -> None:
        stream, positions = await stream_of(store, 5)
        await snapshots.save(snapshot(stream, positions, 2))

        assert await snapshots.save(snapshot(stream, positions, 4))
        assert not await snapshots.save(snapshot(stream, positions, 3))
        assert not await snapshots.save(snapshot(stream, positions, 4))

        assert await snapshots.load(stream, 1) == snapshot(stream, positions, 4)

    async def test_a_snapshot_of_another_schema_is_replaced_whatever_its_version(
        self, store: EventStore, snapshots: SnapshotStore
    ) -> None:
        stream, positions = await stream_of(store, 5)
        await snapshots.save(snapshot(stream, positions, 5, schema=1))

        assert await snapshots.save(snapshot(stream, positions, 2, schema=2))

        assert await snapshots.load(stream, 2) == snapshot(stream, positions, 2, schema=2)
        assert await snapshots.load(stream, 1) is None

    async def test_a_snapshot_the_log_does_not_hold_is_refused(
        self, store: EventStore, snapshots: SnapshotStore
    ) -> None:
        stream, positions = await stream_of(store, 2)
        other, other_positions = await stream_of(store, 3)

        ahead = Snapshot(
            stream_id=stream, version=3, position=positions[-1] + 1, schema_version=1, state=b"?"
        )
        assert not await snapshots.save(ahead)
        # The right version but another event's position (here: another stream's).
        elsewhere = snapshot(stream, other_positions, 2)
        assert not await snapshots.save(elsewhere)

        assert await snapshots.load(stream, 1) is None
        assert await snapshots.load(other, 1) is None
