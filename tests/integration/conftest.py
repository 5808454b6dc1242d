"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from commands.handler import CommandHandler
from events.postgres.store import PostgresEventStore, create_pool
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World


@pytest.fixture
async def small_world(make_database: MakeDatabase) -> AsyncIterator[World]:
    """A fresh database, its store and a command handler, on a pool of 5."""
    pool = await create_pool(await make_database(), min_size=1, max_size=5)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()
