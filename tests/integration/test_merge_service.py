"""The merge service and the merge completer against real PostgreSQL: both
steps through the command handler, the read models (inbox, timeline,
merges) of a merge, a merge cut short between its steps and finished by the
completer, copies following a target merged on meanwhile, two merges racing
into a ring, and a rebuild of each read model equal to the runner's."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import msgspec
import pytest

from commands import errors
from commands.handler import Busy, CommandHandler
from commands.merge_completer import MergeCompleter
from commands.merge_service import MergeService
from commands.model import (
    Actor,
    MarkRead,
    MergeConversation,
    MergeTarget,
    Role,
    SendMessage,
    StartConversation,
)
from events.catalogue import Channel, Client, ConversationMergedIn, MessageSent, Status
from events.postgres.store import PostgresEventStore, create_pool
from projections.inbox import InboxProjection
from projections.merges import MergesProjection
from projections.rebuild import rebuild
from projections.timeline import TimelineProjection
from read_api.queries import conversations_by_id, list_messages
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World, store_runner

ANN = Actor(id="ann", role=Role.AGENT)
BEN = Actor(id="ben", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
PROJECTIONS = (InboxProjection, TimelineProjection, MergesProjection)


@pytest.fixture
async def world(make_database: MakeDatabase) -> AsyncIterator[World]:
    pool = await create_pool(await make_database(), min_size=1, max_size=8)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()


def service(world: World) -> MergeService:
    return MergeService(world.handler, world.store, world.pool)


async def project(world: World) -> None:
    for projection in PROJECTIONS:
        await store_runner(world, projection()).catch_up_from_store()


async def start(world: World, *lines: tuple[Actor, str]) -> UUID:
    command = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
    cid = (await world.handler.handle(command, ANN)).conversation_id
    for actor, content in lines:
        await world.handler.handle(SendMessage(conversation_id=cid, content=content), actor)
    return cid


async def stream(world: World, cid: UUID) -> list[MessageSent]:
    events = await world.store.read_stream(f"conversation-{cid}")
    return [e.data for e in events if isinstance(e.data, MessageSent)]


async def merges(pool: asyncpg.Pool, *sources: UUID) -> dict[UUID, tuple[UUID | None, bool]]:
    """The merges rows of these sources: where their copies went, and whether they did."""
    rows = await pool.fetch(
        "SELECT source_id, imported_into, imported FROM merges WHERE source_id = ANY($1)",
        list(sources),
    )
    return {r["source_id"]: (r["imported_into"], r["imported"]) for r in rows}


async def test_a_merge_moves_messages_and_unread_into_the_target(world: World) -> None:
    target = await start(world, (CAROL, "t1"), (ANN, "t2"), (CAROL, "t3"))
    source = await start(world, (CAROL, "s1"), (CAROL, "s2"), (BEN, "s3"), (CAROL, "s4"))
    await world.handler.handle(MarkRead(conversation_id=source, up_to_seq=2), BEN)
    await world.handler.handle(MarkRead(conversation_id=source, up_to_seq=3), CAROL)

    result = await service(world).merge(source, target, ANN, command_id="m-1")
    assert result.source.events == ["ConversationMerged"]
    assert (result.target.conversation_id, result.target.message_count) == (target, 4)
    assert (result.target.version, result.position) == (1 + 3 + 1 + 4, result.target.position)
    await project(world)

    views = await conversations_by_id(world.pool, [source, target], viewer="ann")
    rows = {v.conversation_id: v for v in views}
    assert (rows[source].status, rows[source].merged_into) == (Status.CLOSED, target)
    assert (rows[source].unread_for_staff, rows[source].unread_for_client) == (0, 0)
    assert rows[source].my_unread == 0
    # The target: its own unread (t1, t3 for staff; t2 for the client) and
    # the source's (s4 for staff; none for the client: it read s3).
    assert (rows[target].unread_for_staff, rows[target].unread_for_client) == (3, 1)
    assert rows[target].my_unread == 3
    assert (rows[target].message_count, rows[target].merged_into) == (7, None)
    page = await list_messages(world.pool, target, before=None, limit=50)
    assert [m.content for m in page.items] == ["t1", "t2", "t3", "s1", "s2", "s3", "s4"]
    originals = await stream(world, source)
    copies = page.items[3:]
    origins = [c.merged_from for c in copies]
    assert [o and (o.conversation_id, o.seq, o.message_id) for o in origins] == [
        (source, m.seq, m.message_id) for m in originals
    ]
    assert all(m.merged_from is None for m in page.items[:3])
    assert [c.read_by_staff_at is not None for c in copies] == [True, True, False, False]
    assert [c.read_by_client_at is not None for c in copies] == [False, False, True, False]
    # The source stays readable, as it was.
    source_page = await list_messages(world.pool, source, before=None, limit=50)
    assert [m.content for m in source_page.items] == ["s1", "s2", "s3", "s4"]
    assert await merges(world.pool, source) == {source: (target, True)}

    # A retry answers as the first time and writes nothing.
    head = await world.store.head_position()
    again = await service(world).merge(source, target, ANN, command_id="m-1")
    assert (again.source.position, again.target, again.position) == (
        result.source.position,
        msgspec.structs.replace(result.target, replayed=True),
        result.position,
    )
    assert await world.store.head_position() == head


async def test_the_completer_finishes_a_merge_cut_short_between_its_steps(world: World) -> None:
    target = await start(world, (CAROL, "t1"))
    source = await start(world, (CAROL, "s1"), (CAROL, "s2"))
    known = MergeTarget(client_id="c-1", status=Status.ACTIVE)
    step_one = MergeConversation(conversation_id=source, into=target, target=known)
    await world.handler.handle(step_one, BEN)  # and then the process died
    await project(world)
    assert await merges(world.pool, source) == {source: (None, False)}

    completer = MergeCompleter(service(world), world.pool, settle=0)
    assert await completer.complete_pending() == 1
    await project(world)
    assert await merges(world.pool, source) == {source: (target, True)}
    assert [m.content for m in await stream(world, target)] == ["t1", "s1", "s2"]
    # As the merger: the import is Ben's, under the command id derived from the source.
    events = await world.store.read_stream(f"conversation-{target}")
    merged_in = next(e for e in events if isinstance(e.data, ConversationMergedIn))
    assert (merged_in.metadata.actor_id, merged_in.data.by) == ("ben", "ben")
    assert merged_in.metadata.command_id == f"ben|cmd|merge-into:{source}"
    # Nothing left to do; doing it again writes nothing.
    head = await world.store.head_position()
    assert await completer.complete_pending() == 0
    await service(world).complete(source)
    assert await world.store.head_position() == head


async def test_copies_follow_a_target_merged_on_meanwhile(world: World) -> None:
    first = await start(world, (CAROL, "a1"))
    middle = await start(world, (CAROL, "b1"))
    last = await start(world, (CAROL, "c1"))
    known = MergeTarget(client_id="c-1", status=Status.ACTIVE)
    await world.handler.handle(
        MergeConversation(conversation_id=first, into=middle, target=known), ANN
    )
    await service(world).merge(middle, last, ANN)
    result = await service(world).complete(first)
    assert result.conversation_id == last
    assert [m.content for m in await stream(world, last)] == ["c1", "b1", "a1"]
    await project(world)
    assert await merges(world.pool, first, middle) == {first: (last, True), middle: (last, True)}


async def test_two_merges_never_close_a_ring(world: World) -> None:
    """A into B and B into A at once, from two processes: one wins."""
    for _ in range(5):
        a = await start(world, (CAROL, "a"))
        b = await start(world, (CAROL, "b"))
        one = MergeService(CommandHandler(world.store), world.store, world.pool)
        other = MergeService(CommandHandler(world.store), world.store, world.pool)
        outcomes = await asyncio.gather(
            one.merge(a, b, ANN), other.merge(b, a, BEN), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(refused) == 1 and isinstance(refused[0], errors.ConversationWasMerged)
        states = [await world.handler.state_of(c) for c in (a, b)]
        assert sorted(s.merged_into is None for s in states) == [False, True]


async def test_sends_from_another_process_racing_a_merge_are_copied_or_refused(
    world: World,
) -> None:
    """Sends through another handler (as from another process, with its own
    cached states and group commit) race the merge: each lands before it and
    is copied, or is refused naming the target; none is lost or doubled.
    (A step 1 that keeps losing the race is refused ``busy``; the merger
    retries it with the same command id, as a client would.)"""
    target = await start(world, (CAROL, "t0"))
    source = await start(world, (CAROL, "s0"))
    other_process = PostgresEventStore(world.pool)
    elsewhere = CommandHandler(other_process)
    accepted: list[UUID] = []
    refused: list[errors.ConversationWasMerged] = []
    some_sent = asyncio.Event()

    async def keep_sending(n: int) -> None:
        """Send until refused."""
        for i in itertools.count():
            command = SendMessage(conversation_id=source, content=f"{n}.{i}")
            try:
                result = await elsewhere.handle(command, CAROL)
            except errors.ConversationWasMerged as refusal:
                refused.append(refusal)
                return
            assert result.message_id is not None
            accepted.append(result.message_id)
            if len(accepted) >= 5:
                some_sent.set()
            await asyncio.sleep(random.uniform(0, 0.01))  # a client's pace, not a wait

    async def merge_soon() -> None:
        await some_sent.wait()
        for _ in range(20):
            try:
                await service(world).merge(source, target, ANN, command_id="race")
            except Busy:
                continue
            return
        raise AssertionError("the merge kept losing the race")

    try:
        async with asyncio.timeout(60), asyncio.TaskGroup() as group:
            group.create_task(merge_soon())
            for n in range(3):
                group.create_task(keep_sending(n))
    finally:
        await other_process.close()
    assert len(refused) == 3 and {r.into for r in refused} == {target}
    originals = [m.message_id for m in await stream(world, source)]
    assert sorted(originals[1:]) == sorted(accepted)
    copied = [m.merged_from.message_id for m in await stream(world, target) if m.merged_from]
    assert copied == originals


async def test_a_rebuild_equals_the_incremental_tables(world: World) -> None:
    await test_a_merge_moves_messages_and_unread_into_the_target(world)
    await test_copies_follow_a_target_merged_on_meanwhile(world)
    await project(world)
    head = await world.store.head_position()
    for make in PROJECTIONS:
        projection = make()
        before = await snapshot(world.pool, projection.tables)
        assert await rebuild(world.pool, world.store, projection) == head
        assert await snapshot(world.pool, projection.tables) == before


async def snapshot(pool: asyncpg.Pool, tables: tuple[str, ...]) -> dict[str, list[asyncpg.Record]]:
    return {t: list(await pool.fetch(f"SELECT * FROM {t} x ORDER BY x::text")) for t in tables}
