"""The in-memory snapshot store passes the same contract as PostgreSQL."""

from __future__ import annotations

import pytest

from events.snapshots import SnapshotStore
from tests.fakes.memory_snapshots import MemorySnapshotStore
from tests.fakes.memory_store import MemoryEventStore
from tests.integration.snapshot_store_contract import SnapshotStoreContract


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def snapshots(store: MemoryEventStore) -> MemorySnapshotStore:
    return MemorySnapshotStore(store)


def test_it_implements_the_port() -> None:
    assert isinstance(MemorySnapshotStore(MemoryEventStore()), SnapshotStore)


class TestMemorySnapshotStore(SnapshotStoreContract):
    pass
