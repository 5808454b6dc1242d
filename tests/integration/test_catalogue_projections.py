"""The label and canned-response catalogues and the labels on inbox rows,
projected from real commands into real PostgreSQL; a rebuild gives the
tables the runner built; migration 005 fills in rows projected before it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from commands.canned import ChangeCannedResponse, CreateCannedResponse, DeleteCannedResponse
from commands.catalogue_handler import CatalogueHandler
from commands.handler import CommandHandler
from commands.labels import ChangeLabel, CreateLabel, DeleteLabel
from commands.model import (
    Actor,
    LabelConversation,
    Role,
    StartConversation,
    UnlabelConversation,
)
from events.catalogue import Channel, Client
from events.postgres.migrate import apply_migrations
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from projections.catalogues import CataloguesProjection
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from read_api.queries import conversations_by_id
from read_api.row_labels import LabelView
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World, store_runner

ADMIN = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)


@pytest.fixture
async def world(make_database: MakeDatabase) -> AsyncIterator[World]:
    pool = await create_pool(await make_database(), min_size=1, max_size=5)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()


async def project(world: World) -> None:
    for projection in (InboxProjection(), CataloguesProjection()):
        await store_runner(world, projection).catch_up_from_store()


async def start(world: World) -> UUID:
    command = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
    return (await world.handler.handle(command, ADMIN)).conversation_id


async def snapshot(pool: asyncpg.Pool, tables: tuple[str, ...]) -> dict[str, list[asyncpg.Record]]:
    return {t: list(await pool.fetch(f"SELECT * FROM {t} x ORDER BY x::text")) for t in tables}


async def labelled_history(world: World) -> list[UUID]:
    """Three labels (one renamed, one deleted), on and off two conversations."""
    catalogue = CatalogueHandler(world.store)
    for name in ("VIP", "Billing", "Gone"):
        await catalogue.handle(CreateLabel(name=name, colour="#AA0000"), ADMIN)
    cids = [await start(world), await start(world)]
    for cid, label_id in ((cids[0], "vip"), (cids[0], "gone"), (cids[0], "billing")):
        await world.handler.handle(LabelConversation(conversation_id=cid, label_id=label_id), BOB)
    await world.handler.handle(LabelConversation(conversation_id=cids[1], label_id="vip"), BOB)
    await world.handler.handle(UnlabelConversation(conversation_id=cids[0], label_id="vip"), BOB)
    await world.handler.handle(LabelConversation(conversation_id=cids[0], label_id="vip"), BOB)
    await catalogue.handle(ChangeLabel(label_id="billing", name="Accounts"), ADMIN)
    await catalogue.handle(DeleteLabel(label_id="gone"), ADMIN)
    return cids


async def test_labels_canned_responses_and_the_labels_on_rows_are_projected(world: World) -> None:
    cids = await labelled_history(world)
    catalogue = CatalogueHandler(world.store)
    hello = await catalogue.handle(CreateCannedResponse(code="hello", content="Hi!"), BOB)
    assert hello.response_id is not None
    await catalogue.handle(CreateCannedResponse(code="bye", content="Bye", shared=True), ADMIN)
    gone = await catalogue.handle(CreateCannedResponse(code="gone", content="x"), BOB)
    assert gone.response_id is not None
    await catalogue.handle(ChangeCannedResponse(response_id=hello.response_id, code="Hi"), BOB)
    await catalogue.handle(DeleteCannedResponse(response_id=gone.response_id), BOB)

    await project(world)

    labels = await world.pool.fetch("SELECT label_id, name, colour FROM labels ORDER BY 1")
    assert [tuple(r) for r in labels] == [
        ("billing", "Accounts", "#aa0000"),
        ("vip", "VIP", "#aa0000"),
    ]
    canned = await world.pool.fetch(
        "SELECT code, owner_id FROM canned_responses ORDER BY lower(code)"
    )
    assert [tuple(r) for r in canned] == [("bye", None), ("Hi", "bob")]
    # The column keeps the stream's labels in the order put on; rows show the
    # ones still in the catalogue, by name.
    raw = await world.pool.fetchval(
        "SELECT labels FROM conversations WHERE conversation_id = $1", cids[0]
    )
    assert raw == ["gone", "billing", "vip"]
    rows = {v.conversation_id: v for v in await conversations_by_id(world.pool, cids, viewer=None)}
    assert rows[cids[0]].labels == [
        LabelView(label_id="billing", name="Accounts", colour="#aa0000"),
        LabelView(label_id="vip", name="VIP", colour="#aa0000"),
    ]
    assert [label.label_id for label in rows[cids[1]].labels] == ["vip"]

    # A rebuild of each gives the same tables.
    head = await world.store.head_position()
    for projection in (InboxProjection(), CataloguesProjection()):
        before = await snapshot(world.pool, projection.tables)
        assert await rebuild(world.pool, world.store, projection) == head
        assert await snapshot(world.pool, projection.tables) == before


MIGRATION_005 = "projections/005_labels_and_canned"
UNDO_005 = """
DROP TABLE labels, canned_responses;
ALTER TABLE conversations DROP COLUMN labels;
"""


async def test_the_migration_fills_in_the_labels_of_rows_projected_before_it(world: World) -> None:
    await labelled_history(world)
    log = await world.store.read_all(after=0, limit=10_000)
    # The inbox has read up to just after the unlabel and before the relabel.
    cut = next(i for i, e in enumerate(log) if e.type == "ConversationUnlabelled") + 1
    runner = store_runner(world, InboxProjection())
    await runner.apply(log[:cut])
    projected = await world.pool.fetch(
        "SELECT conversation_id, labels FROM conversations ORDER BY 1"
    )
    async with world.pool.acquire() as conn:
        await conn.execute(UNDO_005)
        await conn.execute("DELETE FROM schema_migrations WHERE name = $1", MIGRATION_005)
        assert await apply_migrations(conn, MIGRATION_FOLDERS) == [MIGRATION_005]
    assert (
        await world.pool.fetch("SELECT conversation_id, labels FROM conversations ORDER BY 1")
        == projected
    )
    assert sorted(len(r["labels"]) for r in projected) == [1, 2]

    await runner.catch_up_from_store()
    inbox = InboxProjection()
    carried_on = await snapshot(world.pool, inbox.tables)
    await rebuild(world.pool, world.store, inbox)
    assert await snapshot(world.pool, inbox.tables) == carried_on
