"""The in-memory event store passes the same contract as PostgreSQL."""

from __future__ import annotations

import pytest

from events.store import EventStore
from tests.fakes.memory_store import MemoryEventStore
from tests.integration.event_store_contract import EventStoreContract


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


def test_it_implements_the_port() -> None:
    assert isinstance(MemoryEventStore(), EventStore)


class TestMemoryEventStore(EventStoreContract):
    pass
