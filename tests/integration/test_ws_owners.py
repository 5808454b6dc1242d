"""Whose conversation a socket asks for (ws_edge/owners.py): answered from the
inbox read model, or from the stream when the read model is behind; lookups
asked for at once all get their own answer; an outage reaches every one."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from commands.model import Actor, Role, StartConversation
from events.catalogue import Channel, Client
from events.postgres.store import PostgresEventStore, create_pool
from events.store import StoreUnavailable
from projections.inbox import InboxProjection
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World, store_runner
from ws_edge.outages import OUTAGES
from ws_edge.owners import Owners

ADMIN = Actor(id="alice", role=Role.ADMIN, name="Alice")


@pytest.fixture
def world(small_world: World) -> World:
    return small_world


async def start(world: World, client_id: str) -> uuid.UUID:
    command = StartConversation(client=Client(id=client_id, name="C"), channel=Channel.WEB)
    return (await world.handler.handle(command, ADMIN)).conversation_id


async def test_every_lookup_asked_at_once_gets_its_own_client(world: World) -> None:
    projected = [await start(world, f"c-{n}") for n in range(20)]
    await store_runner(world, InboxProjection()).catch_up_from_store()
    not_yet = [await start(world, f"late-{n}") for n in range(5)]  # the read model is behind
    unknown = uuid.uuid4()
    owners = Owners(world.store, world.pool)

    asked = [*projected, *not_yet, unknown, *projected]  # twice: the same id in one batch
    answers = await asyncio.gather(*(owners.client_of(cid) for cid in asked))

    expected = [f"c-{n}" for n in range(20)] + [f"late-{n}" for n in range(5)]
    assert answers == [*expected, None, *expected[:20]]
    assert await owners.client_of(not_yet[0]) == "late-0"  # remembered
    assert await owners.client_of(unknown) is None  # asked again, still unknown


async def test_an_outage_reaches_every_waiting_lookup(make_database: MakeDatabase) -> None:
    pool = await create_pool(await make_database(), min_size=1, max_size=2)
    store = PostgresEventStore(pool)
    owners = Owners(store, pool)
    await store.close()
    await pool.close()
    answers = await asyncio.gather(
        *(owners.client_of(uuid.uuid4()) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(a, OUTAGES) for a in answers), answers
    assert all(isinstance(a, StoreUnavailable) for a in answers)  # a retry later
