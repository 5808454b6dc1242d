"""Snooze in real PostgreSQL: the inbox's snoozed rows (and their rebuild),
and two wakers running side by side that wake every snooze exactly once,
on time, including a snooze moved later, one the client ends first and
ones already overdue when the wakers start."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from commands.handler import CommandHandler
from commands.model import (
    Actor,
    AssignConversation,
    ChangeStatus,
    DeleteConversation,
    Role,
    SendMessage,
    SnoozeConversation,
    StartConversation,
)
from commands.waker import Waker
from events.catalogue import (
    Channel,
    Client,
    ConversationSnoozed,
    ConversationWoke,
    Status,
    WakeReason,
)
from events.envelope import RecordedEvent
from events.postgres.store import PostgresEventStore, create_pool
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner
from read_api.queries import ConversationView, conversations_by_id
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World, store_runner

ADMIN = Actor(id="alice", role=Role.ADMIN)
CLIENT = Actor(id="carol", role=Role.CLIENT, client_id="c-1")


@pytest.fixture
async def url(make_database: MakeDatabase) -> str:
    return await make_database()


@pytest.fixture
async def world(url: str) -> AsyncIterator[World]:
    pool = await create_pool(url, min_size=1, max_size=6)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()


async def start(world: World, team_id: str | None = None) -> UUID:
    command = StartConversation(
        client=Client(id="c-1", name="Carol"), channel=Channel.WEB, team_id=team_id
    )
    return (await world.handler.handle(command, ADMIN)).conversation_id


async def snooze(world: World, cid: UUID, until: datetime) -> None:
    await world.handler.handle(SnoozeConversation(conversation_id=cid, until=until), ADMIN)


async def row(world: World, cid: UUID) -> ConversationView:
    (view,) = await conversations_by_id(world.pool, [cid], viewer=None)
    return view


async def eventually(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout:g} s"
        await asyncio.sleep(0.02)


# -- the inbox -------------------------------------------------------------------------


async def test_the_inbox_shows_a_snooze_until_it_ends_and_a_rebuild_agrees(world: World) -> None:
    inbox = store_runner(world, InboxProjection())
    until = datetime.now(UTC) + timedelta(hours=2)
    woken, changed, deleted, kept = [await start(world, "support") for _ in range(4)]
    for cid in (woken, changed, deleted, kept):
        await snooze(world, cid, until)
    await inbox.catch_up_from_store()
    snoozed = await row(world, kept)
    assert (snoozed.status, snoozed.snoozed_until) == ("snoozed", until)
    assert snoozed.waiting_since is None  # set aside: it does not wait for an agent
    (version,) = await world.pool.fetch(
        "SELECT snoozed_version FROM conversations WHERE conversation_id = $1", kept
    )
    assert version[0] == snoozed.version == 2

    # Being put in a queue while snoozed does not make it wait either.
    await world.handler.handle(AssignConversation(conversation_id=kept, team_id="other"), ADMIN)
    # The client's message wakes one; a status change ends another; one is deleted.
    await world.handler.handle(SendMessage(conversation_id=woken, content="hello?"), CLIENT)
    await world.handler.handle(ChangeStatus(conversation_id=changed, status=Status.PENDING), ADMIN)
    await world.handler.handle(DeleteConversation(conversation_id=deleted), ADMIN)
    await inbox.catch_up_from_store()

    assert (await row(world, kept)).waiting_since is None
    for cid, status in ((woken, "active"), (changed, "pending"), (deleted, "snoozed")):
        view = await row(world, cid)
        assert (view.status, view.snoozed_until) == (status, None), cid
    at = await world.pool.fetchval(
        "SELECT recorded_at FROM events WHERE stream_id = $1 AND type = 'ConversationWoke'",
        f"conversation-{woken}",
    )
    assert (await row(world, woken)).waiting_since == at  # waits again, from its wake
    assert (await row(world, deleted)).waiting_since is None

    before = await world.pool.fetch("SELECT * FROM conversations c ORDER BY c::text")
    await rebuild(world.pool, world.store, InboxProjection())
    assert await world.pool.fetch("SELECT * FROM conversations c ORDER BY c::text") == before


# -- two wakers ------------------------------------------------------------------------


@dataclass
class Snoozes:
    """What the log says of each conversation's snoozes and wakes."""

    snoozed: dict[UUID, list[RecordedEvent]]
    woke: dict[UUID, list[RecordedEvent]]


async def from_the_log(world: World) -> Snoozes:
    found = Snoozes({}, {})
    for event in await world.store.read_all(after=0, limit=100_000):
        if isinstance(event.data, ConversationSnoozed):
            found.snoozed.setdefault(event.data.conversation_id, []).append(event)
        elif isinstance(event.data, ConversationWoke):
            found.woke.setdefault(event.data.conversation_id, []).append(event)
    return found


@pytest.fixture
async def keep_inbox(world: World) -> AsyncIterator[None]:
    """The inbox projection kept up with the log (as a worker's runner would)."""
    runner: ProjectionRunner = store_runner(world, InboxProjection())
    stop = asyncio.Event()

    async def follow() -> None:
        while not stop.is_set():
            await runner.catch_up_from_store()
            await world.store.wait_for_events(runner.position, 0.05)

    following = asyncio.create_task(follow())
    yield
    stop.set()
    await following


@asynccontextmanager
async def wakers(world: World, url: str, count: int = 2) -> AsyncIterator[list[Waker]]:
    """``count`` wakers, each with its own pool and store (as in its own
    worker), running until the block ends."""
    pools = [await create_pool(url, min_size=1, max_size=3) for _ in range(count)]
    stores = [PostgresEventStore(pool) for pool in pools]
    running = [Waker(store, pool) for store, pool in zip(stores, pools, strict=True)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in running]
    try:
        yield running
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for store, pool in zip(stores, pools, strict=True):
            await store.close()
            await pool.close()


async def test_two_wakers_wake_every_snooze_once_on_time(
    world: World, keep_inbox: None, url: str
) -> None:
    def soon(seconds: float) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=seconds)

    # Overdue before the wakers start: snoozed for a moment, then left to pass.
    overdue = [await start(world) for _ in range(5)]
    for cid in overdue:
        await snooze(world, cid, soon(0.3))
    timed = [await start(world) for _ in range(20)]
    moved, client_first = await start(world), await start(world)
    passed = soon(0.3)
    await eventually(lambda: _past(passed), "past the overdue ones' until")

    async with wakers(world, url) as running:
        # Moved later before its first until: woken once, at the later one.
        await snooze(world, moved, soon(1.5))
        await snooze(world, moved, soon(2.5))
        # The client writes before its until: the waker finds nothing to do.
        await snooze(world, client_first, soon(1.5))
        await world.handler.handle(SendMessage(conversation_id=client_first, content="?"), CLIENT)
        for n, cid in enumerate(timed):  # until 1 s to 2 s ahead, 50 ms apart
            await snooze(world, cid, soon(1 + n / 20))
        everyone = [*overdue, *timed, moved, client_first]

        async def all_woke() -> bool:
            return set((await from_the_log(world)).woke) == set(everyone)

        await eventually(all_woke, "every snooze woken")
        # A while longer: a second wake of anything would show by then.
        later = soon(0.75)
        await eventually(lambda: _past(later), "a while on")
        tallies: Counter[str] = Counter()
        for waker in running:
            tallies.update(waker.tally)

    log = await from_the_log(world)
    assert {cid: len(events) for cid, events in log.woke.items()} == dict.fromkeys(everyone, 1)
    for cid in everyone:
        [woke], last_snooze = log.woke[cid], log.snoozed[cid][-1]
        assert isinstance(woke.data, ConversationWoke)
        assert isinstance(last_snooze.data, ConversationSnoozed)
        assert woke.stream_position > last_snooze.stream_position
        if cid == client_first:
            assert woke.data.reason is WakeReason.CLIENT_MESSAGE
            continue
        assert woke.data.reason is WakeReason.TIMER and woke.metadata.actor_id == "waker"
        late = (woke.recorded_at - last_snooze.data.until).total_seconds()
        assert late >= 0, (cid, late)  # never early
        if cid not in overdue:
            assert late <= 1.0, (cid, late)
    # Each timer wake was written by exactly one of the two wakers.
    assert tallies["woke"] == len(everyone) - 1
    assert tallies["refused"] == 0
    # Nothing is left snoozed in the inbox.
    left = await world.pool.fetchval("SELECT count(*) FROM conversations WHERE status = 'snoozed'")
    assert left == 0


async def _past(moment: datetime) -> bool:
    return datetime.now(UTC) >= moment
