"""Fault tests with real processes: ``parley worker`` and nats-server (from the
embedded wheel) run as child processes of the test, which kills them with
SIGKILL while commands flow, and checks that the read models still equal a
plain fold of the log: no event missing, none counted twice.

Each test has its own database, its own nats-server (store in a temporary
folder, never the machine's NATS) and its own stream prefix.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import asyncpg
import nats
import psutil
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from commands.handler import CommandHandler
from commands.model import Actor, MarkRead, Role, SendMessage, StartConversation
from events.catalogue import Channel, Client, MessagesRead
from events.jetstream.relay import RELAY_LOCK_KEY, Topology
from events.postgres.store import PostgresEventStore, create_pool
from tests.conftest import MakeDatabase
from tests.processes import NatsServer, Process, Worker
from tests.read_model_fold import fold

ALICE = Actor(id="alice", role=Role.ADMIN)
CHECKPOINTS = ("relay", "inbox", "timeline")
MESSAGES_PER_CONVERSATION = 96  # + a start and three mark-reads: 100 events
OUTAGE = 6.0  # seconds
_prefixes = itertools.count()


@dataclass
class World:
    database_url: str
    pool: asyncpg.Pool
    store: PostgresEventStore
    handler: CommandHandler
    processes: list[Process]

    async def positions(self) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT name, position FROM checkpoints")
        found = {row["name"]: int(row["position"]) for row in rows}
        return {name: found.get(name, -1) for name in CHECKPOINTS}

    async def wait_for(
        self, condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 30
    ) -> None:
        """Poll ``condition`` until it holds; fail (with the processes' logs) after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not await condition():
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.command}:\n{p.log_tail()}" for p in self.processes)
                positions = await self.positions()
                head = await self.store.head_position()
                raise AssertionError(
                    f"not {what} within {timeout:g} s (head {head}, {positions})\n{logs}"
                )
            await asyncio.sleep(0.02)

    async def wait_until_started(self) -> None:
        """A starting worker registers its relay and projection checkpoints."""

        async def registered() -> bool:
            return min((await self.positions()).values()) >= 0

        await self.wait_for(registered, "started", timeout=20)

    async def wait_until_caught_up(self, timeout: float = 30) -> int:
        head = await self.store.head_position()

        async def caught_up() -> bool:
            return set((await self.positions()).values()) == {head}

        await self.wait_for(caught_up, f"caught up with the head, {head}", timeout)
        return head


@asynccontextmanager
async def world(make_database: MakeDatabase) -> AsyncIterator[World]:
    """A fresh database; every process the test adds is stopped at the end."""
    url = await make_database()
    pool = await create_pool(url, max_size=20, command_timeout=60)  # no statement hangs
    store = PostgresEventStore(pool)
    processes: list[Process] = []
    try:
        yield World(url, pool, store, CommandHandler(store), processes)
    finally:
        for process in reversed(processes):  # workers first, then nats-server
            process.stop()
        await store.close()
        await pool.close()


def start_nats(world: World, folder: Path) -> NatsServer:
    server = NatsServer(folder / "nats")
    world.processes.append(server)
    return server


def start_worker(world: World, log: Path, server: NatsServer, prefix: str) -> Worker:
    worker = Worker(log, database_url=world.database_url, nats_url=server.url, prefix=prefix)
    world.processes.append(worker)
    worker.start()
    return worker


def client_of(n: int) -> Actor:
    return Actor(id=f"client-{n}", role=Role.CLIENT, client_id=f"c-{n}")


async def conversation(
    handler: CommandHandler, n: int, messages: int = MESSAGES_PER_CONVERSATION, pace: float = 0
) -> None:
    """A conversation: both sides write, each side marks read now and then
    (``messages`` + 4 events)."""
    client = client_of(n)
    start = StartConversation(client=Client(id=f"c-{n}", name=f"Client {n}"), channel=Channel.WEB)
    cid = (await handler.handle(start, ALICE)).conversation_id
    for i in range(1, messages + 1):
        await asyncio.sleep(pace)
        sender = client if i % 3 else ALICE
        await handler.handle(SendMessage(conversation_id=cid, content=f"m{i} of {n}"), sender)
        if i == messages * 5 // 16:
            await handler.handle(MarkRead(conversation_id=cid, up_to_seq=i * 2 // 3), ALICE)
        if i == messages * 5 // 8:
            await handler.handle(MarkRead(conversation_id=cid), client)
        if i == messages * 15 // 16:
            await handler.handle(MarkRead(conversation_id=cid), ALICE)


async def assert_read_models_equal_the_fold(world: World) -> None:
    log = await world.store.read_all(after=0, limit=1_000_000)
    conversations, messages = fold(log)
    rows = await world.pool.fetch("SELECT * FROM conversations")
    columns = next(iter(conversations.values())).keys()
    actual = {row["conversation_id"]: {k: row[k] for k in columns} for row in rows}

    def counts(table: dict[object, dict[str, object]]) -> dict[object, tuple[object, ...]]:
        keys = ("message_count", "unread_for_staff", "unread_for_client")
        return {cid: tuple(row[k] for k in keys) for cid, row in table.items()}

    # Counts first: a failure then says directly what was lost or counted twice.
    assert counts(actual) == counts(conversations)
    assert actual == conversations
    sent = sum(event.type == "MessageSent" for event in log)
    assert await world.pool.fetchval("SELECT count(*) FROM messages") == sent
    message_rows = await world.pool.fetch("SELECT * FROM messages")
    assert {
        (row["conversation_id"], row["seq"]): {
            "sender": row["sender"],
            "content": row["content"],
            "read_by_staff": row["read_by_staff_at"] is not None,
            "read_by_client": row["read_by_client_at"] is not None,
        }
        for row in message_rows
    } == messages
    # The inbox's bookkeeping holds each message once: the client's unread
    # rows, and every client message's seq (staff unread counts from those).
    client_unread = sum(row["unread_for_client"] for row in actual.values())
    assert await world.pool.fetchval("SELECT count(*) FROM inbox_unread") == client_unread
    from_client = sum(e.type == "MessageSent" and e.data.sender == "client" for e in log)
    assert await world.pool.fetchval("SELECT count(*) FROM inbox_client_messages") == from_client
    # Nobody is assigned here: staff unread is after the furthest staff cursor.
    staff_unread = await world.pool.fetchval(
        "SELECT count(*) FROM inbox_client_messages m WHERE m.seq > coalesce("
        " (SELECT max(up_to_seq) FROM inbox_staff_cursors k"
        "  WHERE k.conversation_id = m.conversation_id), 0)"
    )
    assert staff_unread == sum(row["unread_for_staff"] for row in actual.values())
    cursors: dict[tuple[object, str], int] = {}
    for event in log:
        if isinstance(event.data, MessagesRead):
            key = (event.data.conversation_id, event.data.reader.value)
            cursors[key] = max(cursors.get(key, 0), event.data.up_to_seq)
    cursor_rows = await world.pool.fetch("SELECT * FROM read_cursors")
    assert {(r["conversation_id"], r["reader"]): r["up_to_seq"] for r in cursor_rows} == cursors


class WorkerProcess(Protocol):
    @property
    def running(self) -> bool: ...
    @property
    def pid(self) -> int: ...


W = TypeVar("W", bound=WorkerProcess)


async def relay_leaders(w: World, workers: Sequence[W]) -> list[W]:
    """The workers whose PostgreSQL session holds the relay's advisory lock."""
    ports = await w.pool.fetch(
        "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        RELAY_LOCK_KEY >> 32,
        RELAY_LOCK_KEY & 0xFFFFFFFF,
    )
    holding = {row["client_port"] for row in ports}
    return [
        worker
        for worker in workers
        if worker.running
        and any(c.laddr.port in holding for c in psutil.Process(worker.pid).net_connections("tcp"))
    ]


async def stream_message_ids(url: str, topology: Topology) -> list[str]:
    """The ``Nats-Msg-Id`` of every message in the events stream, in stream order
    (``url``: a server's, or a cluster's separated by commas)."""
    nc = await nats.connect(servers=url.split(","))
    try:
        js = nc.jetstream(timeout=30)  # a cluster on a loaded machine answers slowly
        total = (await js.stream_info(topology.stream)).state.messages
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
        reader = await js.pull_subscribe(
            topology.all_subjects, stream=topology.stream, config=config
        )
        ids: list[str] = []
        async with asyncio.timeout(60):
            while len(ids) < total:
                try:
                    messages = await reader.fetch(500, timeout=5)
                except NatsTimeoutError:
                    continue  # none within 5 s: ask again (the deadline bounds it)
                for message in messages:
                    assert message.metadata.sequence.stream == len(ids) + 1
                    assert message.headers is not None
                    ids.append(message.headers["Nats-Msg-Id"])
        await reader.unsubscribe()
        return ids
    finally:
        await nc.close()


async def test_a_worker_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
    make_database: MakeDatabase, nats_prefix: str, tmp_path: Path
) -> None:
    async with world(make_database) as w:
        server = start_nats(w, tmp_path)
        await server.start_and_wait()
        prefix = f"{nats_prefix}f{next(_prefixes)}"
        first = start_worker(w, tmp_path / "worker-1.log", server, prefix)
        await w.wait_until_started()

        # 50 conversations x 100 events, paced to a few thousand events/s so the
        # stream is still flowing when the worker dies.
        writing = asyncio.gather(*(conversation(w.handler, n, pace=0.01) for n in range(50)))
        try:

            async def partway() -> bool:
                positions = await w.positions()
                head = await w.store.head_position()
                return min(positions.values()) > 0 and (
                    min(positions.values()) >= 1000 or head >= 3000
                )

            await w.wait_for(partway, "partway through the stream")
            assert not writing.done(), "the stream ended before the kill"
            first.kill()
            at_kill = await w.positions()
            head_at_kill = await w.store.head_position()

            # A backlog builds up while no worker runs; the next one starts
            # while events still flow (live events mixed with its catch-up
            # and with the killed one's unacknowledged JetStream messages).
            async def backlog() -> bool:
                return await w.store.head_position() >= head_at_kill + 500 or writing.done()

            await w.wait_for(backlog, "a backlog")
            assert await w.positions() == at_kill  # nothing ran while the worker was dead
            second = start_worker(w, tmp_path / "worker-2.log", server, prefix)
            async with asyncio.timeout(60):
                await writing
        finally:
            if not writing.done():
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)
        head = await w.store.head_position()
        assert head == 5000
        # The kill landed mid-stream: every consumer had done part of the work,
        # and events kept coming after it.
        assert all(0 < p < head for p in at_kill.values()), (at_kill, head_at_kill)

        await w.wait_until_caught_up()
        await assert_read_models_equal_the_fold(w)
        # The relay's batch in flight at the kill went out again: JetStream
        # dropped the repeats, so it holds every event once, in commit order.
        log = await w.store.read_all(after=0, limit=head)
        assert await stream_message_ids(server.url, Topology(prefix)) == [
            str(e.event_id) for e in log
        ]
        assert second.stop() == 0, second.log_tail()  # SIGTERM: a clean stop


async def test_commands_never_fail_while_nats_is_down_and_projections_converge(
    make_database: MakeDatabase, nats_prefix: str, tmp_path: Path
) -> None:
    async with world(make_database) as w:
        server = start_nats(w, tmp_path)
        await server.start_and_wait()
        prefix = f"{nats_prefix}f{next(_prefixes)}"
        worker = start_worker(w, tmp_path / "worker.log", server, prefix)
        await w.wait_until_started()

        phase = "before"
        succeeded = dict.fromkeys(("before", "outage", "after"), 0)
        failed: list[tuple[str, BaseException]] = []
        stop = asyncio.Event()

        async def keep_writing(n: int) -> None:
            client = client_of(n)
            start = StartConversation(client=Client(id=f"c-{n}", name=f"C{n}"), channel=Channel.WEB)
            cid = (await w.handler.handle(start, ALICE)).conversation_id
            for i in itertools.count(1):
                if stop.is_set():
                    return
                during = phase
                try:
                    sender = client if i % 3 else ALICE
                    await w.handler.handle(
                        SendMessage(conversation_id=cid, content=f"m{i}"), sender
                    )
                    if i % 10 == 0:
                        reader = ALICE if i % 20 else client
                        await w.handler.handle(MarkRead(conversation_id=cid), reader)
                except Exception as error:
                    failed.append((during, error))
                else:
                    succeeded[during] += 1
                await asyncio.sleep(0.02)

        writing = asyncio.gather(*(keep_writing(n) for n in range(10)))
        try:

            async def flowing() -> bool:
                return min((await w.positions()).values()) >= 200

            await w.wait_for(flowing, "projecting through NATS")
            server.kill()
            phase = "outage"
            head_at_outage = await w.store.head_position()
            outage_began = time.monotonic()

            # NATS is down: the projections catch up from the store on their own.
            async def projected_past_the_outage() -> bool:
                positions = await w.positions()
                return min(positions["inbox"], positions["timeline"]) > head_at_outage + 200

            await w.wait_for(projected_past_the_outage, "projecting from the store", timeout=20)
            # Longer than a JetStream publish's timeout (5 s): the relay's
            # publishes fail and are retried, not just held until NATS is back.
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - outage_began)))
            relay_in_outage = (await w.positions())["relay"]

            await server.start_and_wait()  # the same store folder and port
            phase = "after"
            await asyncio.sleep(1)
            stop.set()
            async with asyncio.timeout(10):
                await writing
        finally:
            stop.set()
            if not writing.done():
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)

        assert failed == []
        assert min(succeeded.values()) > 0, succeeded
        assert succeeded["outage"] >= 200, succeeded
        assert relay_in_outage <= head_at_outage  # NATS really was down for the relay
        head = await w.wait_until_caught_up()
        await assert_read_models_equal_the_fold(w)
        # Nothing JetStream acknowledged was lost with the killed server, and
        # the publishes retried after the outage were de-duplicated.
        log = await w.store.read_all(after=0, limit=head)
        assert await stream_message_ids(server.url, Topology(prefix)) == [
            str(e.event_id) for e in log
        ]
        assert worker.stop() == 0, worker.log_tail()


async def test_two_workers_one_relay_publishes_and_the_other_takes_over_when_it_dies(
    make_database: MakeDatabase, nats_prefix: str, tmp_path: Path
) -> None:
    async with world(make_database) as w:
        server = start_nats(w, tmp_path)
        await server.start_and_wait()
        topology = Topology(f"{nats_prefix}f{next(_prefixes)}")
        workers = [
            start_worker(w, tmp_path / f"worker-{n}.log", server, topology.prefix) for n in (1, 2)
        ]
        await w.wait_until_started()

        async def write(first: int) -> None:
            await asyncio.gather(
                *(
                    conversation(w.handler, n, messages=46, pace=0.01)
                    for n in range(first, first + 20)
                )
            )

        async with asyncio.timeout(30):
            await write(0)
        head = await w.wait_until_caught_up()
        assert head == 1000
        leaders = await relay_leaders(w, workers)
        assert len(leaders) == 1, "exactly one relay leads"
        [leader] = leaders
        [follower] = [worker for worker in workers if worker is not leader]

        # The leader dies while events flow; the follower takes over.
        writing = asyncio.ensure_future(write(20))
        try:

            async def relaying() -> bool:
                return (await w.positions())["relay"] > head + 100

            await w.wait_for(relaying, "relaying the second round")
            assert not writing.done(), "the stream ended before the kill"
            leader.kill()
            async with asyncio.timeout(30):
                await writing
        finally:
            if not writing.done():
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)

        head = await w.wait_until_caught_up()
        assert head == 2000
        assert await relay_leaders(w, workers) == [follower]
        log = await w.store.read_all(after=0, limit=head)
        # Every event in JetStream once, in commit order: no duplicate, no gap.
        assert await stream_message_ids(server.url, topology) == [str(e.event_id) for e in log]
        await assert_read_models_equal_the_fold(w)
        assert follower.stop() == 0, follower.log_tail()
