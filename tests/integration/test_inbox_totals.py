"""``include_total``: the inbox's counters equal a count of the rows for every
filter they cover, through status changes, reassignment, snooze, deletion and
a rebuild; a filter they do not cover is counted on its index, up to a limit."""

from __future__ import annotations

import gc
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.model import (
    Actor,
    AssignConversation,
    ChangeStatus,
    DeleteConversation,
    Role,
    SnoozeConversation,
    StartConversation,
    UpdateConversation,
)
from events.catalogue import Channel, Client, Priority, Status
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from read_api.inbox_queries import UNASSIGNED, InboxFilter, where_conditions
from read_api.inbox_totals import count
from tests.integration.test_projections import World, store_runner

ADMIN = Actor(id="alice", role=Role.ADMIN, name="Alice")


@pytest.fixture
def world(small_world: World) -> World:
    return small_world


async def a_busy_inbox(world: World) -> None:
    """Twelve conversations moved through every counted column."""
    handle = world.handler.handle
    for n in range(12):
        client = Client(id=f"c-{n % 5}", name=f"Client {n % 5}")
        team = ("billing", "sales", None)[n % 3]
        start = StartConversation(client=client, channel=Channel.WEB, team_id=team)
        cid = (await handle(start, ADMIN)).conversation_id
        if n % 4 in (1, 2):
            await handle(AssignConversation(conversation_id=cid, agent_id=f"agent-{n % 2}"), ADMIN)
        if n % 4 == 2:  # and back to the team's queue
            await handle(AssignConversation(conversation_id=cid, team_id="sales"), ADMIN)
        if n % 3 == 1:
            await handle(UpdateConversation(conversation_id=cid, priority=Priority.HIGH), ADMIN)
        if n % 5 == 3:
            await handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), ADMIN)
        if n % 5 == 4:
            until = datetime.now(UTC) + timedelta(days=1)
            await handle(SnoozeConversation(conversation_id=cid, until=until), ADMIN)
        if n == 7:
            await handle(DeleteConversation(conversation_id=cid), ADMIN)
    await store_runner(world, InboxProjection()).catch_up_from_store()


def every_counted_filter() -> list[InboxFilter]:
    statuses = [None, *Status]
    priorities = [None, Priority.HIGH, Priority.MEDIUM]
    assignees = [None, UNASSIGNED, "agent-0", "agent-1", "nobody"]
    teams = [None, "billing", "sales"]
    return [
        InboxFilter(status=s, priority=p, assignee_id=a, team_id=t, include_deleted=d)
        for s, p, a, t, d in itertools.product(
            statuses, priorities, assignees, teams, (False, True)
        )
    ]


async def counted_by_hand(world: World, filters: InboxFilter) -> int:
    args: list[Any] = []
    where = " AND ".join(where_conditions(filters, args)) or "true"
    sql = f"SELECT count(*) FROM conversations WHERE {where}"
    found: int = await world.pool.fetchval(sql, *args)
    return found


async def assert_every_total_is_exact(world: World) -> None:
    grouped = await world.pool.fetch(
        "SELECT status, coalesce(assignee_id, ''), coalesce(team_id, ''), priority, deleted,"
        " count(*) FROM conversations GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    )
    counters = await world.pool.fetch("SELECT * FROM inbox_counts ORDER BY 1, 2, 3, 4, 5")
    assert [tuple(r) for r in counters] == [tuple(r) for r in grouped]
    for filters in every_counted_filter():
        total = await count(world.pool, filters)
        assert (total.rows, total.exact) == (await counted_by_hand(world, filters), True), filters


async def test_the_counters_equal_the_rows_for_every_filter_they_cover(world: World) -> None:
    await a_busy_inbox(world)
    assert await counted_by_hand(world, InboxFilter(include_deleted=True)) == 12
    await assert_every_total_is_exact(world)


async def test_a_rebuild_recounts_the_same_totals(world: World) -> None:
    await a_busy_inbox(world)
    before = await world.pool.fetch("SELECT * FROM inbox_counts ORDER BY 1, 2, 3, 4, 5")
    await rebuild(world.pool, world.store, InboxProjection())
    after = await world.pool.fetch("SELECT * FROM inbox_counts ORDER BY 1, 2, 3, 4, 5")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    await assert_every_total_is_exact(world)
    # The live table counts again after the swap.
    await a_busy_inbox(world)
    await assert_every_total_is_exact(world)


async def test_a_rebuild_leaves_the_counters_without_dead_space(world: World) -> None:
    """Replaying updates a counter row once per change, in few transactions:
    the shadow copy fills with dead versions (at 1M conversations, 216 rows in
    108 MB that every unfiltered sum read), which the rebuild rewrites away."""
    for _ in range(4):
        await a_busy_inbox(world)

    async def counters_bytes() -> int:
        return int(await world.pool.fetchval("SELECT pg_relation_size('inbox_counts')"))

    await rebuild(world.pool, world.store, InboxProjection(), compact_from=1 << 40)
    bloated = await counters_bytes()
    await rebuild(world.pool, world.store, InboxProjection(), compact_from=0)
    assert await counters_bytes() == 8192 < bloated  # one page holds the few live rows
    await assert_every_total_is_exact(world)


async def test_a_rebuild_gives_the_garbage_collector_back_as_it_found_it(world: World) -> None:
    """It pauses the cyclic collector while it replays (docs/BENCHMARKS.md)."""
    await a_busy_inbox(world)
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            await rebuild(world.pool, world.store, InboxProjection())
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
    await assert_every_total_is_exact(world)


async def test_a_filter_the_counters_do_not_cover_is_counted_up_to_a_limit(world: World) -> None:
    await a_busy_inbox(world)
    by_client = InboxFilter(client_id="c-1")
    assert await count(world.pool, by_client) == (await counted_by_hand(world, by_client), True)
    # Three rows of client c-1 (n = 1, 6, 11); counted up to two, the total
    # says "at least two".
    assert await count(world.pool, by_client, limit=2) == (2, False)
    assert await count(world.pool, InboxFilter(client_id="c-1", status=Status.CLOSED)) == (0, True)
