"""Private notes, mention notifications and the staff timeline, from real
commands through real PostgreSQL: what the projections build, what the
queries give, and a rebuild equals what the runners built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from commands import errors
from commands.handler import CommandHandler
from commands.mentions_lookup import resolve_mentions
from commands.model import (
    Actor,
    AddNote,
    AssignConversation,
    ChangeStatus,
    Role,
    SendMessage,
    StartConversation,
)
from commands.notifications import MarkNotificationsRead
from commands.notifications_handler import NotificationsHandler
from commands.staff import SetAvailability, UpdateAgent
from commands.staff_handler import StaffHandler
from events.catalogue import Availability, Channel, Client, Status
from events.postgres.store import PostgresEventStore, create_pool
from projections.notifications import NotificationsProjection
from projections.rebuild import rebuild
from projections.staff import StaffProjection
from projections.timeline import TimelineProjection
from projections.timeline_entries import TimelineEntriesProjection
from read_api.notes_queries import (
    TimelineMessage,
    TimelineNote,
    TimelineSystem,
    notifications,
    timeline,
)
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World, store_runner

ADMIN = Actor(id="alice", role=Role.ADMIN, name="Alice")
ANN = Actor(id="ann", role=Role.AGENT, name="Ann Lee")
BEN = Actor(id="ben", role=Role.AGENT, name="Ben Stone")
CLIENT = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
PROJECTIONS = (
    StaffProjection,
    TimelineProjection,
    NotificationsProjection,
    TimelineEntriesProjection,
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


async def directory(world: World) -> None:
    """Ann and Ben sign in (and so are in the directory)."""
    staff = StaffHandler(world.store)
    for agent in (ANN, BEN):
        await staff.handle(
            SetAvailability(agent_id=agent.id, availability=Availability.ONLINE), agent
        )
    await project(world)


async def note(
    world: World, cid: UUID, content: str, author: Actor = ANN, explicit: tuple[str, ...] = ()
) -> None:
    mentions = await resolve_mentions(world.pool, content, explicit)
    command = AddNote(conversation_id=cid, content=content, mentions=mentions)
    await world.handler.handle(command, author)


async def a_conversation_with_notes(world: World) -> UUID:
    """A client message, a note naming Ben, a status change, an assignment,
    another message and a note on the closed conversation."""
    started = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
    cid = (await world.handler.handle(started, ADMIN)).conversation_id
    await world.handler.handle(SendMessage(conversation_id=cid, content="help"), CLIENT)
    await note(world, cid, "@BenStone can you look? Not @nobody.")
    await world.handler.handle(ChangeStatus(conversation_id=cid, status=Status.PENDING), ANN)
    await world.handler.handle(AssignConversation(conversation_id=cid, agent_id="ben"), ADMIN)
    await world.handler.handle(SendMessage(conversation_id=cid, content="on it"), BEN)
    await world.handler.handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), BEN)
    await note(world, cid, "closed: duplicate", author=BEN, explicit=("ann",))
    return cid


async def test_mentions_are_the_explicit_ids_then_the_named_agents_each_once(world: World) -> None:
    await directory(world)

    assert await resolve_mentions(world.pool, "@ann and @BENSTONE, @ann", ("ben",)) == (
        "ben",
        "ann",
    )
    assert await resolve_mentions(world.pool, "no mention, mail x@ann", ()) == ()
    with pytest.raises(errors.AgentNotFound) as refused:
        await resolve_mentions(world.pool, "hi", ("ann", "ghost"))
    assert refused.value.field == "mentions"


async def test_the_staff_timeline_holds_messages_notes_and_system_entries_in_log_order(
    world: World,
) -> None:
    await directory(world)
    cid = await a_conversation_with_notes(world)
    await project(world)

    page = await timeline(world.pool, cid, after=0, limit=50)

    assert [(type(i).__name__, getattr(i, "event_type", "")) for i in page.items] == [
        ("TimelineMessage", ""),
        ("TimelineNote", ""),
        ("TimelineSystem", "ConversationStatusChanged"),
        ("TimelineSystem", "ConversationAssigned"),
        ("TimelineMessage", ""),
        ("TimelineSystem", "ConversationStatusChanged"),
        ("TimelineNote", ""),
    ]
    positions = [i.position for i in page.items]
    assert positions == sorted(positions) and page.next_after is None
    first_note, status, assigned = page.items[1:4]
    assert isinstance(first_note, TimelineNote) and first_note.author_name == "Ann Lee"
    assert first_note.mentions == ["ben"]
    assert isinstance(status, TimelineSystem) and status.by == "ann"
    assert status.details == {"from": "active", "to": "pending", "reason": None}
    # Alice never signed in as an agent: no display name, her id stands in.
    assert isinstance(assigned, TimelineSystem) and assigned.by_name == "alice"
    assert assigned.details["agent_id"] == "ben"
    message = page.items[4]
    assert isinstance(message, TimelineMessage) and message.sender_name == "Ben Stone"


async def test_timeline_pages_follow_one_another_without_gaps(world: World) -> None:
    await directory(world)
    cid = await a_conversation_with_notes(world)
    await project(world)
    everything = (await timeline(world.pool, cid, after=0, limit=50)).items

    seen, after = [], 0
    while True:
        page = await timeline(world.pool, cid, after=after, limit=2)
        seen.extend(page.items)
        if page.next_after is None:
            break
        after = page.next_after

    assert seen == everything


async def test_a_page_stops_where_the_slower_projection_has_got(world: World) -> None:
    await directory(world)
    cid = await a_conversation_with_notes(world)
    await store_runner(world, TimelineProjection()).catch_up_from_store()
    log = await world.store.read_all(after=0, limit=1000)
    entries = store_runner(world, TimelineEntriesProjection())
    await entries.apply(log[: len(log) - 3])  # the entries are behind the messages

    page = await timeline(world.pool, cid, after=0, limit=50)

    assert page.reached == log[len(log) - 4].global_position
    assert all(i.position <= page.reached for i in page.items)
    await entries.catch_up_from_store()
    rest = await timeline(world.pool, cid, after=page.items[-1].position, limit=50)
    assert len(page.items) + len(rest.items) == 7


async def test_a_mentioned_agent_is_notified_until_they_read_it(world: World) -> None:
    await directory(world)
    cid = await a_conversation_with_notes(world)
    await project(world)

    (bens,) = (
        await notifications(world.pool, "ben", unread_only=True, before=None, limit=10)
    ).items
    assert (bens.conversation_id, bens.author_name, bens.read) == (cid, "Ann Lee", False)
    assert bens.excerpt == "@BenStone can you look? Not @nobody."
    anns = await notifications(world.pool, "ann", unread_only=False, before=None, limit=10)
    assert [n.excerpt for n in anns.items] == ["closed: duplicate"]
    assert (
        await notifications(world.pool, "alice", unread_only=False, before=None, limit=10)
    ).items == []

    reads = NotificationsHandler(world.store)
    await reads.handle(MarkNotificationsRead(agent_id="ben", up_to_position=bens.position), BEN)
    await reads.handle(
        MarkNotificationsRead(agent_id="ann", note_ids=(anns.items[0].note_id,)), ANN
    )
    await project(world)

    for agent in ("ben", "ann"):
        page = await notifications(world.pool, agent, unread_only=False, before=None, limit=10)
        assert [n.read for n in page.items] == [True] and page.unread_count == 0
        unread = await notifications(world.pool, agent, unread_only=True, before=None, limit=10)
        assert unread.items == []


async def test_notifications_page_newest_first(world: World) -> None:
    await directory(world)
    cid = await a_conversation_with_notes(world)
    for n in range(5):
        await note(world, cid, f"note {n}", author=ANN, explicit=("ben",))
    await project(world)

    first = await notifications(world.pool, "ben", unread_only=False, before=None, limit=4)
    second = await notifications(
        world.pool, "ben", unread_only=False, before=first.next_before, limit=4
    )

    excerpts = [n.excerpt for n in first.items + second.items]
    assert excerpts[:5] == [f"note {n}" for n in reversed(range(5))]
    assert len(excerpts) == 6 and second.next_before is None
    assert first.unread_count == 6


async def snapshot(pool: asyncpg.Pool, tables: tuple[str, ...]) -> dict[str, list[asyncpg.Record]]:
    return {t: list(await pool.fetch(f"SELECT * FROM {t} x ORDER BY x::text")) for t in tables}


async def test_a_rebuild_equals_the_incremental_tables(world: World) -> None:
    await directory(world)
    for _ in range(3):
        cid = await a_conversation_with_notes(world)
    reads = NotificationsHandler(world.store)
    await project(world)
    page = await notifications(world.pool, "ben", unread_only=False, before=None, limit=10)
    # The reads are projected one by one here, in one batch by the rebuild
    # (the earliest read of a notification wins either way).
    by_id = MarkNotificationsRead(agent_id="ben", note_ids=(page.items[0].note_id,))
    by_position = MarkNotificationsRead(agent_id="ben", up_to_position=page.items[0].position)
    for command in (by_id, by_position):
        await reads.handle(command, BEN)
        await project(world)
    # A rename changes no stored row (names are joined in at query time).
    await StaffHandler(world.store).handle(UpdateAgent(agent_id="ann", display_name="Ann B"), ANN)
    await note(world, cid, "after the reads @ann")
    await project(world)
    head = await world.store.head_position()

    for make in PROJECTIONS:
        projection = make()
        before = await snapshot(world.pool, projection.tables)
        assert await rebuild(world.pool, world.store, projection) == head
        assert await snapshot(world.pool, projection.tables) == before
    assert len((await snapshot(world.pool, ("timeline_entries",)))["timeline_entries"]) == 3 * 5 + 1
