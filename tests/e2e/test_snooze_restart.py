"""Wake-ups are durable: a real ``parley worker`` process, killed with SIGKILL
right after a snooze and started again, still wakes the conversation on
time — within 1 s of ``until`` when it is back before ``until``, and at once
on start when it comes back after it. Measured from the log."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest

from commands.handler import CommandHandler
from commands.model import Actor, Role, SnoozeConversation, StartConversation
from events.catalogue import Channel, Client, ConversationWoke, WakeReason
from events.envelope import RecordedEvent
from events.postgres.store import PostgresEventStore, create_pool
from tests.conftest import MakeDatabase
from tests.processes import Worker

ADMIN = Actor(id="alice", role=Role.ADMIN)
_prefixes = itertools.count()


@dataclass
class Desk:
    pool: asyncpg.Pool
    store: PostgresEventStore
    handler: CommandHandler
    worker: Worker

    async def snoozed(self, seconds: float) -> tuple[UUID, datetime]:
        """A new conversation snoozed for ``seconds``, and its until."""
        start = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
        cid = (await self.handler.handle(start, ADMIN)).conversation_id
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        await self.handler.handle(SnoozeConversation(conversation_id=cid, until=until), ADMIN)
        return cid, until

    async def woke(self, cid: UUID) -> RecordedEvent | None:
        events = await self.store.read_stream(f"conversation-{cid}")
        found = [e for e in events if isinstance(e.data, ConversationWoke)]
        assert len(found) <= 1, found  # never woken twice
        return found[0] if found else None

    async def wait_for_wake(self, cid: UUID, timeout: float = 20) -> RecordedEvent:
        deadline = time.monotonic() + timeout
        while (woke := await self.woke(cid)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"not woken in {timeout:g} s:\n{self.worker.log_tail()}")
            await asyncio.sleep(0.02)
        return woke

    async def wait_until_started(self) -> None:
        """A started worker has registered the inbox's checkpoint."""
        deadline = time.monotonic() + 20
        while not await self.pool.fetchval("SELECT count(*) FROM checkpoints WHERE name = 'inbox'"):
            assert time.monotonic() < deadline, self.worker.log_tail()
            await asyncio.sleep(0.02)


@pytest.fixture
async def desk(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> AsyncIterator[Desk]:
    url = await make_database()
    pool = await create_pool(url, min_size=1, max_size=4)
    store = PostgresEventStore(pool)
    prefix = f"{nats_prefix}wk{next(_prefixes)}"
    worker = Worker(tmp_path / "worker.log", database_url=url, nats_url=nats_url, prefix=prefix)
    worker.start()
    try:
        yield Desk(pool, store, CommandHandler(store), worker)
    finally:
        worker.stop()
        await store.close()
        await pool.close()


async def test_a_worker_killed_after_the_snooze_and_back_before_until_wakes_it_on_time(
    desk: Desk,
) -> None:
    await desk.wait_until_started()
    cid, until = await desk.snoozed(2)
    desk.worker.kill()
    desk.worker.start()
    woke = await desk.wait_for_wake(cid)
    assert isinstance(woke.data, ConversationWoke) and woke.data.reason is WakeReason.TIMER
    late = (woke.recorded_at - until).total_seconds()
    assert 0 <= late <= 1.0, late


async def test_a_worker_back_after_until_wakes_the_overdue_at_once(desk: Desk) -> None:
    await desk.wait_until_started()
    cid, until = await desk.snoozed(1)
    desk.worker.kill()
    # Nobody wakes it while no worker runs.
    while datetime.now(UTC) < until + timedelta(seconds=1):
        await asyncio.sleep(0.05)
    assert await desk.woke(cid) is None
    restarted = datetime.now(UTC)
    desk.worker.start()
    woke = await desk.wait_for_wake(cid)
    # At once: as soon as the new worker is up (a process start, well under 5 s).
    assert 0 <= (woke.recorded_at - restarted).total_seconds() <= 5.0
