"""The staff directory and the inbox's assignment, waiting time and
per-staff unread, projected from real commands into real PostgreSQL; and a
rebuild of each gives the tables the runner built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from commands.handler import CommandHandler
from commands.model import (
    Actor,
    AddNote,
    AssignConversation,
    ChangeStatus,
    MarkRead,
    Role,
    SendMessage,
    StartConversation,
)
from commands.notifications import MarkNotificationsRead
from commands.notifications_handler import NotificationsHandler
from commands.staff import AddTeamMember, CreateTeam, RemoveTeamMember, SetAvailability, UpdateAgent
from commands.staff_handler import StaffHandler
from events.catalogue import Availability, Channel, Client, Status
from events.postgres.migrate import apply_migrations
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from projections.catalogues import CataloguesProjection
from projections.inbox import InboxProjection
from projections.merges import MergesProjection
from projections.notifications import NotificationsProjection
from projections.rebuild import rebuild
from projections.search import SearchProjection
from projections.staff import StaffProjection
from projections.timeline import TimelineProjection
from projections.timeline_entries import TimelineEntriesProjection
from read_api.queries import ConversationView, conversations_by_id
from tests.conftest import MakeDatabase
from tests.integration.test_projections import (
    World,
    assert_read_models_equal_the_fold,
    scripted_history,
    store_runner,
)

ADMIN = Actor(id="alice", role=Role.ADMIN, name="Alice")
ANN = Actor(id="ann", role=Role.AGENT, name="Ann Agent")
BEN = Actor(id="ben", role=Role.AGENT, name="Ben Agent")
CLIENT = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
PROJECTIONS = (
    InboxProjection,
    TimelineProjection,
    StaffProjection,
    CataloguesProjection,
    NotificationsProjection,
    TimelineEntriesProjection,
    MergesProjection,
    SearchProjection,
)


@pytest.fixture
async def world(make_database: MakeDatabase) -> AsyncIterator[World]:
    pool = await create_pool(await make_database(), min_size=1, max_size=5)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()


async def project(world: World) -> None:
    for projection in PROJECTIONS:
        await store_runner(world, projection()).catch_up_from_store()


async def start(world: World, team_id: str | None = None) -> UUID:
    command = StartConversation(
        client=Client(id="c-1", name="Carol"), channel=Channel.WEB, team_id=team_id
    )
    return (await world.handler.handle(command, ADMIN)).conversation_id


async def row(world: World, cid: UUID, viewer: str | None = None) -> ConversationView:
    (view,) = await conversations_by_id(world.pool, [cid], viewer=viewer)
    return view


async def recorded_at(world: World, cid: UUID, event_type: str) -> object:
    return await world.pool.fetchval(
        "SELECT max(recorded_at) FROM events WHERE stream_id = $1 AND type = $2",
        f"conversation-{cid}",
        event_type,
    )


async def test_the_staff_directory_is_projected(world: World) -> None:
    staff = StaffHandler(world.store)
    await staff.handle(SetAvailability(agent_id="ann", availability=Availability.ONLINE), ANN)
    await staff.handle(SetAvailability(agent_id="ben", availability=Availability.AWAY), BEN)
    await staff.handle(UpdateAgent(agent_id="ben", display_name="Benjamin", capacity=3), ADMIN)
    await staff.handle(CreateTeam(team_id="billing", name="Billing"), ADMIN)
    for agent in ("ann", "ben"):
        await staff.handle(AddTeamMember(team_id="billing", agent_id=agent), ADMIN)
    await staff.handle(RemoveTeamMember(team_id="billing", agent_id="ann"), ADMIN)

    await project(world)

    agents = await world.pool.fetch(
        "SELECT agent_id, display_name, capacity, availability FROM agents ORDER BY agent_id"
    )
    assert [tuple(a) for a in agents] == [
        ("ann", "Ann Agent", agents[0]["capacity"], "online"),
        ("ben", "Benjamin", 3, "away"),
    ]
    assert [
        tuple(t) for t in await world.pool.fetch("SELECT team_id, name, routing FROM teams")
    ] == [("billing", "Billing", True)]
    members = await world.pool.fetch("SELECT team_id, agent_id FROM team_members")
    assert [tuple(m) for m in members] == [("billing", "ben")]


async def test_a_conversation_waits_while_open_without_an_agent(world: World) -> None:
    cid = await start(world, team_id="billing")
    await project(world)
    started = await row(world, cid)
    # Started in a team's queue: waiting since its start.
    assert (started.team_id, started.assignee_id) == ("billing", None)
    assert started.waiting_since == started.created_at

    await world.handler.handle(AssignConversation(conversation_id=cid, agent_id="dan"), ADMIN)
    await project(world)
    assigned = await row(world, cid)
    assert (assigned.assignee_id, assigned.team_id, assigned.waiting_since) == (
        "dan",
        "billing",
        None,
    )
    assert assigned.assignee_name == "dan"  # not in the directory: the id

    await world.handler.handle(AssignConversation(conversation_id=cid, team_id="billing"), ADMIN)
    await project(world)
    requeued = await row(world, cid)
    assert requeued.assignee_id is None
    assert requeued.waiting_since == await recorded_at(world, cid, "ConversationUnassigned")

    await world.handler.handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), ADMIN)
    await project(world)
    assert (await row(world, cid)).waiting_since is None

    await world.handler.handle(ChangeStatus(conversation_id=cid, status=Status.ACTIVE), ADMIN)
    await project(world)
    reopened = await row(world, cid)
    assert reopened.waiting_since == await recorded_at(world, cid, "ConversationStatusChanged")


async def test_each_staff_member_has_their_own_unread(world: World) -> None:
    cid = await start(world)
    for text in ("one", "two", "three"):
        await world.handler.handle(SendMessage(conversation_id=cid, content=text), CLIENT)
    await world.handler.handle(MarkRead(conversation_id=cid, up_to_seq=2), ANN)
    await world.handler.handle(MarkRead(conversation_id=cid, up_to_seq=1), BEN)
    await project(world)

    # Unassigned: unread by every staff member = after the furthest cursor (Ann's).
    assert (await row(world, cid)).unread_for_staff == 1
    assert [(await row(world, cid, who)).my_unread for who in ("ann", "ben", "alice")] == [1, 2, 3]
    last = await row(world, cid)
    assert (last.last_message_sender, last.last_message_sender_name) == ("client", "Carol")

    # Assigned to Ben: what Ben has not read.
    await world.handler.handle(AssignConversation(conversation_id=cid, agent_id="ben"), ADMIN)
    await project(world)
    assert (await row(world, cid)).unread_for_staff == 2
    await world.handler.handle(MarkRead(conversation_id=cid), BEN)
    await project(world)
    assert (await row(world, cid)).unread_for_staff == 0
    assert [(await row(world, cid, who)).my_unread for who in ("ann", "ben")] == [1, 0]

    # A staff reply: its sender is named from the directory once registered.
    staff = StaffHandler(world.store)
    await staff.handle(SetAvailability(agent_id="ben", availability=Availability.ONLINE), BEN)
    await world.handler.handle(SendMessage(conversation_id=cid, content="on it"), BEN)
    await project(world)
    replied = await row(world, cid, "ben")
    assert (replied.last_message_sender, replied.last_message_sender_name) == ("admin", "Ben Agent")
    assert (replied.assignee_name, replied.unread_for_client) == ("Ben Agent", 1)


async def snapshot(pool: asyncpg.Pool, tables: tuple[str, ...]) -> dict[str, list[asyncpg.Record]]:
    return {t: list(await pool.fetch(f"SELECT * FROM {t} x ORDER BY x::text")) for t in tables}


async def test_a_rebuild_equals_the_incremental_tables(world: World) -> None:
    await test_a_conversation_waits_while_open_without_an_agent(world)
    await test_each_staff_member_has_their_own_unread(world)
    await test_the_staff_directory_is_projected(world)
    # A note naming Ben (a notification, a timeline entry), which Ben reads.
    cid = await start(world)
    await world.handler.handle(AddNote(conversation_id=cid, content="@ben", mentions=("ben",)), ANN)
    await project(world)
    read = MarkNotificationsRead(agent_id="ben", up_to_position=await world.store.head_position())
    await NotificationsHandler(world.store).handle(read, BEN)
    await project(world)
    head = await world.store.head_position()
    for make in PROJECTIONS:
        projection = make()
        before = await snapshot(world.pool, projection.tables)
        assert await rebuild(world.pool, world.store, projection) == head
        assert await snapshot(world.pool, projection.tables) == before
    read = "SELECT count(*) FROM notifications WHERE read_at IS NOT NULL"
    assert await world.pool.fetchval(read) == 1


async def test_the_migration_fills_in_rows_projected_before_it(world: World) -> None:
    """Rows the inbox built before migration 003 (here: part of a history
    without assignments, the 003 objects taken away again) get the values
    the projection itself gives; the runner carries on from there."""
    await scripted_history(world.handler)
    log = await world.store.read_all(after=0, limit=10_000)
    runner = store_runner(world, InboxProjection())
    await runner.apply(log[: len(log) // 2])
    columns = "conversation_id, waiting_since, last_message_sender, unread_for_staff"
    projected = await world.pool.fetch(f"SELECT {columns} FROM conversations ORDER BY 1")
    async with world.pool.acquire() as conn:
        await conn.execute(UNDO_003)
        await conn.execute("DELETE FROM schema_migrations WHERE name = $1", MIGRATION_003)
        assert await apply_migrations(conn, MIGRATION_FOLDERS) == [MIGRATION_003, MIGRATION_011]
    assert await world.pool.fetch(f"SELECT {columns} FROM conversations ORDER BY 1") == projected
    assert any(r["waiting_since"] for r in projected)
    assert any(r["last_message_sender"] for r in projected)

    await runner.catch_up_from_store()
    await store_runner(world, TimelineProjection()).catch_up_from_store()
    await assert_read_models_equal_the_fold(world)
    # Every inbox table as a rebuild from the whole log gives it.
    inbox = InboxProjection()
    carried_on = await snapshot(world.pool, inbox.tables)
    await rebuild(world.pool, world.store, inbox)
    assert await snapshot(world.pool, inbox.tables) == carried_on


MIGRATION_003 = "projections/003_staff_and_assignment"
MIGRATION_011 = "projections/011_inbox_counts"  # depends on 003's columns: undone and redone too
UNDO_003 = """
DROP TABLE inbox_counts;
DROP FUNCTION parley_inbox_counts CASCADE;
DROP INDEX conversations_by_status;
DELETE FROM schema_migrations WHERE name = 'projections/011_inbox_counts';
DROP TABLE agents, teams, team_members, inbox_client_messages, inbox_staff_cursors;
DROP INDEX conversations_by_created;
ALTER TABLE conversations
    DROP COLUMN activity_at, DROP COLUMN priority_rank, DROP COLUMN not_waiting,
    DROP COLUMN queue_at, DROP COLUMN assignee_id, DROP COLUMN team_id,
    DROP COLUMN waiting_since, DROP COLUMN last_message_sender,
    DROP COLUMN last_message_sender_id;
CREATE INDEX conversations_by_last_update ON conversations (last_update DESC, conversation_id DESC);
"""
