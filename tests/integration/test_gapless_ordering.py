"""A tailing reader never skips a committed event.

The classic pitfall: positions taken from a sequence at insert time, while
transactions commit in another order. A reader that tails
``global_position > last_seen`` then skips an event that commits late with a
lower number. These tests scramble commit order on purpose (every append
sleeps a random while inside its transaction, after its rows got their
positions) and check that the reader still gets every event exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from events.envelope import RecordedEvent
from events.postgres.store import PostgresEventStore, create_pool
from tests.conftest import MakeDatabase
from tests.factories import messages

WRITERS = 16
STREAMS = 120
EVENTS = 10_000

# Installed in this test's own database only: every insert statement sleeps up
# to 4 ms before its transaction can commit.
SCRAMBLE_COMMIT_ORDER = """
CREATE FUNCTION scramble_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(random() * 0.004);
    RETURN NULL;
END $$;
CREATE TRIGGER scramble_commit_order AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION scramble_commit_order();
"""


def tail_problems(received: list[int], committed: set[int]) -> list[str]:
    """What a tail got wrong: positions out of order, duplicated or missing."""
    problems = []
    if any(b <= a for a, b in itertools.pairwise(received)):
        problems.append("positions not strictly increasing")
    if len(set(received)) != len(received):
        problems.append("an event was received twice")
    if missing := committed - set(received):
        problems.append(f"{len(missing)} committed events never received")
    return problems


@pytest.fixture
async def scrambled_pool(make_database: MakeDatabase) -> AsyncIterator[asyncpg.Pool]:
    url = await make_database()
    pool = await create_pool(url, min_size=4, max_size=WRITERS + 4)
    await pool.execute(SCRAMBLE_COMMIT_ORDER)
    yield pool
    await pool.close()


async def test_a_tailing_reader_gets_every_event_once_in_order_under_scrambled_commits(
    scrambled_pool: asyncpg.Pool,
) -> None:
    streams = [f"conversation-{uuid.uuid4()}" for _ in range(STREAMS)]
    # One store per writer: like 16 processes, each its own group commit.
    writers = [PostgresEventStore(scrambled_pool, writers=1) for _ in range(WRITERS)]
    reader = PostgresEventStore(scrambled_pool)
    committed: dict[UUID, int] = {}
    writing_done = asyncio.Event()
    received: list[RecordedEvent] = []

    async def write(store: PostgresEventStore, quota: int) -> None:
        rng = random.Random()
        while quota > 0:
            batch = messages(min(quota, rng.randint(1, 5)))
            result = await store.append(rng.choice(streams), batch, expected_version=None)
            committed.update(zip((e.event_id for e in batch), result.global_positions, strict=True))
            quota -= len(batch)

    async def tail() -> None:
        last = 0
        while True:
            page = await reader.read_all(after=last, limit=500)
            received.extend(page)
            if page:
                last = page[-1].global_position
            elif writing_done.is_set() and last >= max(committed.values()):
                return
            else:
                await reader.wait_for_events(after=last, timeout=1.0)

    tailer = asyncio.create_task(tail())
    # Two callers per writer, so group commits of several appends happen too.
    quota = -(-EVENTS // (2 * WRITERS))  # rounded up
    await asyncio.gather(*(write(w, quota) for w in writers for _ in range(2)))
    writing_done.set()
    await asyncio.wait_for(tailer, timeout=60)
    for store in [*writers, reader]:
        await store.close()

    positions = [e.global_position for e in received]
    assert len(committed) >= EVENTS
    assert tail_problems(positions, set(committed.values())) == []
    assert positions == list(range(1, len(committed) + 1))  # no holes either
    assert {e.event_id: e.global_position for e in received} == committed
    by_stream: dict[str, list[int]] = defaultdict(list)
    for event in received:
        by_stream[event.stream_id].append(event.stream_position)
    assert len(by_stream) >= 100
    for stream_positions in by_stream.values():
        assert stream_positions == list(range(1, len(stream_positions) + 1))


async def test_the_check_catches_the_naive_sequence_that_skips_a_late_commit(
    make_database: MakeDatabase,
) -> None:
    # The pitfall, made deterministic: a sequence-numbered table, transaction A
    # takes position 1, B takes 2 and commits first, the reader moves past 2,
    # then A commits. The same check that passes above must flag it here.
    url = await make_database()
    a, b, reader = [await asyncpg.connect(url) for _ in range(3)]
    try:
        await reader.execute("CREATE TABLE naive_log (position bigserial PRIMARY KEY)")
        committed = set()
        tx_a, tx_b = a.transaction(), b.transaction()
        await tx_a.start()
        await tx_b.start()
        committed.add(await a.fetchval("INSERT INTO naive_log DEFAULT VALUES RETURNING position"))
        committed.add(await b.fetchval("INSERT INTO naive_log DEFAULT VALUES RETURNING position"))
        await tx_b.commit()

        received = [r[0] for r in await reader.fetch("SELECT position FROM naive_log")]
        await tx_a.commit()
        last = max(received)
        query = "SELECT position FROM naive_log WHERE position > $1 ORDER BY position"
        received += [r[0] for r in await reader.fetch(query, last)]

        assert tail_problems(received, committed) == ["1 committed events never received"]
    finally:
        for conn in (a, b, reader):
            await conn.close()
