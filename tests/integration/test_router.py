"""The router with two real ``parley worker`` processes routing side by side.

Every check reads the whole log through the store and folds it here, by hand
(``audit``), independently of the router's own board: at no point in the
log's order is an agent past capacity or a conversation handed to a second
agent while it still has one.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import psutil
import pytest

from commands.handler import CommandHandler
from commands.model import Actor, AssignConversation, ChangeStatus, Role, StartConversation
from commands.router import ROUTER_LOCK_KEY, Router
from commands.staff import AddTeamMember, CreateTeam, SetAvailability, UpdateAgent
from commands.staff_handler import StaffHandler
from events.catalogue import (
    AgentAvailabilityChanged,
    AssignReason,
    Availability,
    Channel,
    Client,
    ConversationAssigned,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    Status,
)
from events.envelope import RecordedEvent
from events.postgres.append_on import append_on
from events.postgres.store import PostgresEventStore, create_pool
from events.store import ConcurrencyError
from tests.conftest import MakeDatabase
from tests.factories import message, new_stream_id
from tests.processes import Worker

ADMIN = Actor(id="admin", role=Role.ADMIN)
CAPACITY = 10
GRACE = 2.0  # seconds an agent may be offline before the router re-queues
_prefixes = itertools.count()


# -- an independent fold of the log ----------------------------------------------------


@dataclass
class Audit:
    """Who holds what, and every breach of the router's promises, in log order."""

    assignee: dict[UUID, str | None] = field(default_factory=dict)
    team: dict[UUID, str | None] = field(default_factory=dict)
    open: dict[UUID, bool] = field(default_factory=dict)
    load: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    twice: list[RecordedEvent] = field(default_factory=list)
    """Router assignments of a conversation that still had an agent."""
    requeued: list[RecordedEvent] = field(default_factory=list)

    def holding(self, agent_id: str) -> set[UUID]:
        return {c for c, a in self.assignee.items() if a == agent_id and self.open[c]}

    def waiting(self, team_id: str) -> set[UUID]:
        return {
            c
            for c, t in self.team.items()
            if t == team_id and self.assignee[c] is None and self.open[c]
        }

    def _take(self, cid: UUID) -> None:
        if (agent := self.assignee[cid]) is not None and self.open[cid]:
            self.load[agent] -= 1

    def _give(self, cid: UUID, agent: str) -> None:
        self.assignee[cid] = agent
        if self.open[cid]:
            self.load[agent] += 1
            self.peak[agent] = max(self.peak[agent], self.load[agent])


def audit(log: list[RecordedEvent]) -> Audit:
    seen = Audit()
    for event in log:
        match event.data:
            case ConversationStarted(conversation_id=cid, team_id=team):
                seen.assignee[cid], seen.team[cid], seen.open[cid] = None, team, True
            case ConversationAssigned(conversation_id=cid, agent_id=agent, team_id=team):
                if event.data.reason is AssignReason.ROUTER and seen.assignee[cid] is not None:
                    seen.twice.append(event)
                seen._take(cid)
                seen.assignee[cid], seen.team[cid] = None, team
                if agent is not None:
                    seen._give(cid, agent)
            case ConversationUnassigned(conversation_id=cid, team_id=team):
                seen._take(cid)
                seen.assignee[cid], seen.team[cid] = None, team
                if event.data.reason is AssignReason.AGENT_OFFLINE:
                    seen.requeued.append(event)
            case ConversationStatusChanged(conversation_id=cid, to_status=to):
                closing = to is Status.CLOSED
                if closing:
                    seen._take(cid)
                seen.open[cid] = not closing
                if not closing and (agent := seen.assignee[cid]) is not None:
                    seen._give(cid, agent)
    return seen


# -- the world: a database, two workers ------------------------------------------------


@dataclass
class World:
    pool: asyncpg.Pool
    store: PostgresEventStore
    handler: CommandHandler
    staff: StaffHandler
    workers: list[Worker]

    async def log(self) -> list[RecordedEvent]:
        return await self.store.read_all(after=0, limit=1_000_000)

    async def audit(self) -> Audit:
        return audit(await self.log())

    async def wait_for(
        self, condition: Callable[[Audit], bool], what: str, timeout: float = 30
    ) -> Audit:
        """Fold the log until ``condition`` holds; fail with the workers' logs."""
        deadline = time.monotonic() + timeout
        while not condition(seen := await self.audit()):
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {w.command}:\n{w.log_tail()}" for w in self.workers)
                raise AssertionError(f"not {what} within {timeout:g} s: {seen.load}\n{logs}")
            await asyncio.sleep(0.05)
        return seen

    async def team(self, team_id: str, agents: list[str]) -> None:
        """A routed team of online agents, each of capacity ``CAPACITY``."""
        await self.staff.handle(CreateTeam(team_id=team_id, name=team_id.title()), ADMIN)
        for agent in agents:
            await self.staff.handle(UpdateAgent(agent_id=agent, capacity=CAPACITY), ADMIN)
            await self.staff.handle(AddTeamMember(team_id=team_id, agent_id=agent), ADMIN)
            await self.availability(agent, Availability.ONLINE)

    async def availability(self, agent: str, availability: Availability) -> None:
        await self.staff.handle(SetAvailability(agent_id=agent, availability=availability), ADMIN)

    async def start(self, team_id: str, n: int) -> list[UUID]:
        """``n`` conversations started at once in ``team_id``'s queue."""

        async def one(i: int) -> UUID:
            client = Client(id=f"{team_id}-client-{i}", name=f"Client {i}")
            start = StartConversation(client=client, channel=Channel.WEB, team_id=team_id)
            return (await self.handler.handle(start, ADMIN)).conversation_id

        return list(await asyncio.gather(*(one(i) for i in range(n))))

    async def close(self, cid: UUID) -> None:
        await self.handler.handle(ChangeStatus(conversation_id=cid, status=Status.CLOSED), ADMIN)

    async def leaders(self) -> list[Worker]:
        """The workers whose PostgreSQL session holds the router's lock."""
        rows = await self.pool.fetch(
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            ROUTER_LOCK_KEY >> 32,
            ROUTER_LOCK_KEY & 0xFFFFFFFF,
        )
        ports = {row["client_port"] for row in rows}
        return [
            w
            for w in self.workers
            if w.running
            and any(c.laddr.port in ports for c in psutil.Process(w.pid).net_connections("tcp"))
        ]

    async def one_leader(self) -> Worker:
        deadline = time.monotonic() + 20
        while len(leaders := await self.leaders()) != 1:
            assert time.monotonic() < deadline, f"no single router leader: {leaders}"
            await asyncio.sleep(0.05)
        return leaders[0]


@asynccontextmanager
async def two_workers(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, folder: Path
) -> AsyncIterator[World]:
    url = await make_database()
    pool = await create_pool(url, max_size=20)
    store = PostgresEventStore(pool)
    prefix = f"{nats_prefix}router{next(_prefixes)}"
    workers = [
        Worker(folder / f"worker-{n}.log", database_url=url, nats_url=nats_url, prefix=prefix)
        for n in range(2)
    ]
    try:
        for worker in workers:
            assert worker.env is not None
            worker.env["PARLEY_ROUTER_GRACE_SECONDS"] = str(GRACE)
            worker.start()
        yield World(pool, store, CommandHandler(store), StaffHandler(store), workers)
    finally:
        for worker in workers:
            worker.stop()
        await store.close()
        await pool.close()


def assert_kept_its_promises(seen: Audit) -> None:
    """At no point in the log: an agent past capacity, a conversation handed
    by the router to an agent while another still had it."""
    assert seen.twice == []
    assert all(peak <= CAPACITY for peak in seen.peak.values()), seen.peak


# -- the tests -------------------------------------------------------------------------


async def test_two_workers_route_200_conversations_within_capacity_even_when_the_leader_dies(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> None:
    agents = [f"agent-{i}" for i in range(5)]
    async with two_workers(make_database, nats_url, nats_prefix, tmp_path) as world:
        # Given a team of 5 online agents of capacity 10, and two workers routing,
        await world.team("support", agents)
        # when 200 conversations arrive at once,
        started = await world.start("support", 200)

        # then 50 are assigned, 10 each, and the other 150 wait in the queue,
        def full(seen: Audit) -> bool:
            return sum(seen.load[a] for a in agents) == 50

        seen = await world.wait_for(full, "50 assigned")
        assert_kept_its_promises(seen)
        assert {a: seen.load[a] for a in agents} == dict.fromkeys(agents, CAPACITY)
        assert len(seen.waiting("support")) == 150
        assert set(seen.assignee) == set(started)
        # with exactly one router leading.
        leader = await world.one_leader()

        # When 4 of each agent's conversations close and the leader is killed
        # in the middle of refilling their slots,
        closing = [c for a in agents for c in sorted(seen.holding(a))[:4]]
        first, rest = closing[:5], closing[5:]
        await asyncio.gather(*(world.close(c) for c in first))
        leader.kill()
        await asyncio.gather(*(world.close(c) for c in rest))

        # then the other worker takes over and refills every slot,
        def refilled(seen: Audit) -> bool:
            return all(seen.load[a] == CAPACITY for a in agents)

        seen = await world.wait_for(refilled, "refilled by the surviving worker")
        survivor = await world.one_leader()
        assert survivor is not leader
        # still never past capacity nor handing a conversation out twice:
        assert_kept_its_promises(seen)
        assert len(seen.waiting("support")) == 150 - 20
        assert sum(seen.load.values()) == 50
        assert max(seen.load.values()) - min(seen.load.values()) <= 1


async def test_an_agent_offline_past_the_grace_period_has_their_conversations_requeued(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> None:
    agents = ["ann", "bob", "cy"]
    async with two_workers(make_database, nats_url, nats_prefix, tmp_path) as world:
        # Given 12 conversations routed to a team of three: 4 each,
        await world.team("billing", agents)
        await world.start("billing", 12)
        seen = await world.wait_for(lambda s: sum(s.load.values()) == 12, "12 assigned")
        assert {a: seen.load[a] for a in agents} == dict.fromkeys(agents, 4)
        cys = seen.holding("cy")

        # when Cy goes offline for longer than the grace period,
        await world.availability("cy", Availability.OFFLINE)

        # then their conversations go back to the team's queue (agent_offline),
        # and the router hands them to Ann and Bob, within capacity.
        def moved(seen: Audit) -> bool:
            return seen.load["cy"] == 0 and seen.load["ann"] + seen.load["bob"] == 12

        seen = await world.wait_for(moved, "re-queued and re-assigned", timeout=30)
        assert_kept_its_promises(seen)
        assert {(e.data.conversation_id, e.data.team_id) for e in seen.requeued} == {
            (c, "billing") for c in cys
        }
        assert (seen.load["ann"], seen.load["bob"]) == (6, 6)
        assert seen.holding("ann") | seen.holding("bob") >= cys
        # Not before the grace period ran out.
        log = await world.log()
        offline = next(
            e.recorded_at
            for e in log
            if isinstance(e.data, AgentAvailabilityChanged)
            and e.data.agent_id == "cy"
            and e.data.availability is Availability.OFFLINE
        )
        assert all((e.recorded_at - offline).total_seconds() > GRACE for e in seen.requeued)


# -- the parts, in this process ----------------------------------------------------------


async def test_append_on_a_held_connection_checks_the_expected_version(
    pool: asyncpg.Pool, store: PostgresEventStore
) -> None:
    stream_id, first, second = new_stream_id(), message(), message()
    async with pool.acquire() as conn:
        appended = await append_on(conn, stream_id, [first], 0)
        with pytest.raises(ConcurrencyError) as stale:
            await append_on(conn, stream_id, [second], 0)

    assert (appended.first_stream_position, appended.replayed) == (1, False)
    assert stale.value.actual_version == 1
    assert [e.event_id for e in await store.read_stream(stream_id)] == [first.event_id]


class PersonFirst:
    """The store, but a person assigns ``cid`` to ``agent`` just as the router
    reads that conversation to decide."""

    def __init__(self, store: PostgresEventStore, cid: UUID, agent: str) -> None:
        self._store, self._cid, self._agent = store, cid, agent
        self.meddled = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def read_stream(self, stream_id: str, **options: int | None) -> list[RecordedEvent]:
        if stream_id == f"conversation-{self._cid}" and not self.meddled:
            self.meddled = True
            command = AssignConversation(conversation_id=self._cid, agent_id=self._agent)
            await CommandHandler(self._store).handle(command, ADMIN)
        return await self._store.read_stream(stream_id, **options)  # type: ignore[arg-type]


async def test_a_person_who_assigns_first_wins_and_the_router_decides_again(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    pool = await create_pool(url)
    store = PostgresEventStore(pool)
    world = World(pool, store, CommandHandler(store), StaffHandler(store), [])
    stop = asyncio.Event()
    routing: asyncio.Task[None] | None = None
    try:
        # Given a team of two, Ann and Bob, and a conversation waiting,
        await world.team("desk", ["ann", "bob"])
        [cid] = await world.start("desk", 1)
        person = PersonFirst(store, cid, "bob")
        router = Router(person, pool, grace=timedelta(hours=1), tick=0.05)  # type: ignore[arg-type]
        # when the router is about to assign it and a person hands it to Bob first,
        routing = asyncio.create_task(router.run(stop))
        seen = await world.wait_for(lambda s: s.assignee.get(cid) is not None, "assigned")
        # and a second conversation arrives,
        [second] = await world.start("desk", 1)
        seen = await world.wait_for(lambda s: s.assignee.get(second) is not None, "routed")
    finally:
        stop.set()
        if routing is not None:
            await routing
        await store.close()
        await pool.close()

    # then the person's choice stands, the router decided again on it (nothing
    # to do), and gives the next conversation to Ann, who has fewer.
    assert person.meddled and router.tally["conflicts"] == 1
    assert (seen.assignee[cid], seen.assignee[second]) == ("bob", "ann")
    assert_kept_its_promises(seen)


async def test_two_tailers_starting_to_wait_at_once_leave_no_connection_behind(
    make_database: MakeDatabase,
) -> None:
    # The relay and the router wait on one store in each worker: starting to
    # listen together, each took a connection, and one never went back (a
    # worker then hung on shutdown, closing its pool).
    pool = await create_pool(await make_database())
    store = PostgresEventStore(pool)
    try:
        await asyncio.gather(*(store.wait_for_events(0, 0.05) for _ in range(2)))
        await store.close()
        assert pool.get_idle_size() == pool.get_size()  # every connection back
    finally:
        await asyncio.wait_for(pool.close(), 5)
