"""PostgresEventStore against a real PostgreSQL: the contract, plus what only
the database can guarantee."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from events.envelope import AppendResult
from events.postgres.store import (
    APPEND_LOCK_KEY,
    NOTIFY_CHANNEL,
    PostgresEventStore,
    init_connection,
)
from events.store import DuplicateEventError
from tests.conftest import MakeDatabase
from tests.factories import message, messages, new_stream_id
from tests.integration.event_store_contract import EventStoreContract


class TestPostgresEventStore(EventStoreContract):
    pass


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET type = 'Tampered'",
        "UPDATE events SET data = '{}' WHERE global_position = 1",
        "DELETE FROM events",
        "TRUNCATE events",
    ],
)
async def test_the_database_refuses_to_change_or_remove_events(
    store: PostgresEventStore, pool: asyncpg.Pool, statement: str
) -> None:
    await store.append(new_stream_id(), messages(1), expected_version=0)
    head = await store.head_position()
    before = await store.read_all(after=head - 1)

    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await pool.execute(statement)

    assert await store.read_all(after=head - 1) == before


async def test_an_append_notifies_listeners_with_the_new_head(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(*args: object) -> None:
        received.put_nowait(str(args[-1]))

    async with pool.acquire() as conn:
        await conn.add_listener(NOTIFY_CHANNEL, on_notify)
        result = await store.append(new_stream_id(), messages(3), expected_version=0)
        payload = await asyncio.wait_for(received.get(), timeout=10)
        await conn.remove_listener(NOTIFY_CHANNEL, on_notify)
    assert int(payload) == result.last_global_position


async def test_one_failing_append_does_not_fail_the_appends_committed_with_it(
    store: PostgresEventStore,
) -> None:
    # PostgreSQL refuses a NUL character in a text: that append fails in the
    # database, inside a group commit shared with good appends.
    good_streams = [new_stream_id() for _ in range(10)]
    bad_stream = new_stream_id()

    outcomes = await asyncio.gather(
        *(store.append(s, messages(1), expected_version=0) for s in good_streams[:5]),
        store.append(bad_stream + "\x00", messages(1), expected_version=0),
        *(store.append(s, messages(1), expected_version=0) for s in good_streams[5:]),
        return_exceptions=True,
    )

    assert isinstance(outcomes[5], asyncpg.PostgresError)
    assert not any(isinstance(o, BaseException) for o in outcomes[:5] + outcomes[6:])
    assert await store.stream_version(bad_stream) == 0
    for stream in good_streams:
        assert await store.stream_version(stream) == 1


async def test_appends_from_two_store_instances_share_one_gapless_order(
    pool: asyncpg.Pool,
) -> None:
    # Two processes' stores behave like two instances over one database.
    first, second = PostgresEventStore(pool), PostgresEventStore(pool)
    try:
        head = await first.head_position()
        await asyncio.gather(
            *(first.append(new_stream_id(), messages(2), 0) for _ in range(20)),
            *(second.append(new_stream_id(), messages(2), 0) for _ in range(20)),
        )
        log = await first.read_all(after=head, limit=1000)
        assert [e.global_position for e in log] == list(range(head + 1, head + 81))
    finally:
        await first.close()
        await second.close()


async def test_the_same_append_racing_from_two_processes_is_stored_once(
    pool: asyncpg.Pool,
) -> None:
    # Both may check the ids before either commits; the loser's COPY then hits
    # the unique index and its batch is retried append by append.
    first, second = PostgresEventStore(pool), PostgresEventStore(pool)
    try:
        stream, batch = new_stream_id(), messages(3)
        others = [(new_stream_id(), messages(1)) for _ in range(10)]
        results = await asyncio.gather(
            *(store.append(stream, batch, 0) for store in (first, second) for _ in range(5)),
            *(second.append(s, b, 0) for s, b in others),
        )
        mine = results[:10]
        assert len({r.global_positions for r in mine}) == 1
        assert sum(not r.replayed for r in mine) == 1
        assert len(await first.read_stream(stream)) == 3
        for s, _ in others:  # neighbours in a failed batch still got in
            assert await first.stream_version(s) == 1
    finally:
        await first.close()
        await second.close()


async def test_an_append_overlapping_stored_events_after_its_first_fails_alone(
    store: PostgresEventStore,
) -> None:
    # Its first event id is new, so the group commit lets it through; a later
    # one is stored, so the batch's INSERT fails on the unique index. The batch
    # is retried append by append: that one is refused, its neighbours get in.
    stored = messages(2)
    await store.append(new_stream_id(), stored, expected_version=0)
    head = await store.head_position()
    neighbours = [new_stream_id() for _ in range(6)]

    outcomes = await asyncio.gather(
        *(store.append(s, messages(1), expected_version=0) for s in neighbours[:3]),
        store.append(new_stream_id(), [message(), stored[1]], expected_version=0),
        *(store.append(s, messages(1), expected_version=0) for s in neighbours[3:]),
        return_exceptions=True,
    )

    assert isinstance(outcomes[3], DuplicateEventError)
    assert all(isinstance(o, AppendResult) for o in outcomes[:3] + outcomes[4:])
    assert await store.head_position() == head + 6


async def test_a_stale_append_overlapping_stored_events_is_a_duplicate_not_a_conflict(
    store: PostgresEventStore,
) -> None:
    stream, stored = new_stream_id(), messages(2)
    await store.append(stream, stored, expected_version=0)

    with pytest.raises(DuplicateEventError):
        await store.append(stream, [message(), stored[0]], expected_version=1)


async def test_two_concurrent_appends_sharing_an_event_id_store_it_once(
    store: PostgresEventStore,
) -> None:
    shared = message()
    streams = [new_stream_id(), new_stream_id()]

    outcomes = await asyncio.gather(
        *(store.append(s, [message(), shared], expected_version=0) for s in streams),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], AppendResult)
    assert isinstance(outcomes[1], DuplicateEventError)
    assert await store.stream_version(streams[1]) == 0


async def test_group_commits_take_the_append_lock(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # The lock key is written into parley_append (migration 003) as well.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)
        append = asyncio.create_task(store.append(new_stream_id(), messages(1), 0))
        await asyncio.sleep(0.3)
        assert not append.done()
    assert not (await asyncio.wait_for(append, timeout=10)).replayed


async def test_an_append_whose_connection_is_killed_before_commit_is_written_on_a_new_one(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)
        lost = asyncio.create_task(store.append(new_stream_id(), messages(1), 0))
        waiting: list[asyncpg.Record] = []
        for _ in range(200):  # until the writer's call waits for the lock
            waiting = await conn.fetch(
                """
                    SELECT pid FROM pg_locks
                    WHERE locktype = 'advisory' AND NOT granted
                      AND database = (SELECT oid FROM pg_database
                                      WHERE datname = current_database())
                    """
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        await conn.execute("SELECT pg_terminate_backend($1)", waiting[0]["pid"])
    # The writer took a new connection and committed the append there, once.
    appended = await asyncio.wait_for(lost, 10)
    assert not appended.replayed
    [stored] = await store.read_all(after=appended.first_global_position - 1, limit=1)
    assert stored.global_position == appended.first_global_position

    result = await asyncio.wait_for(store.append(new_stream_id(), messages(1), 0), 10)
    assert not result.replayed


async def test_parley_append_refuses_arrays_that_do_not_match(pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await pool.fetch(
            "SELECT * FROM parley_append($1, $2, $3, $4, $5, $6, $7, $8, false)",
            [new_stream_id()],
            [0],
            [2],  # two events announced, one given
            [uuid.uuid4()],
            ["MessageSent"],
            [1],
            [b"{}"],
            [b"{}"],
        )


def _appends(count: int, *, events_each: int = 1) -> list[object]:
    """``parley_append``'s arguments for ``count`` new streams of ``events_each`` events."""
    total = count * events_each
    return [
        [new_stream_id() for _ in range(count)],
        [0] * count,
        [events_each] * count,
        [uuid.uuid4() for _ in range(total)],
        ["MessageSent"] * total,
        [1] * total,
        [b'{"content": "x"}'] * total,
        [b"{}"] * total,
    ]


async def test_group_commits_probe_the_log_by_index_however_small_it_was_when_planned(
    make_database: MakeDatabase,
) -> None:
    # A writer connection caches its plans for parley_append's statements
    # while the log is tiny; the log then grows a hundredfold. Its lookups
    # must still be index probes, not reads of the whole log (migration 004).
    url = await make_database()
    writer, grower = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        for conn in (writer, grower):
            await init_connection(conn)
        call = "SELECT * FROM parley_append($1, $2, $3, $4, $5, $6, $7, $8, false)"
        for _ in range(10):  # past PL/pgSQL's five custom plans: a generic one is cached
            await writer.fetch(call, *_appends(1))
        for _ in range(20):
            await grower.fetch(call, *_appends(100, events_each=10))
        log_pages = await grower.fetchval("SELECT pg_relation_size('events') / 8192")

        plan = await writer.fetchval(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + call, *_appends(1)
        )
        buffers = json.loads(plan)[0]["Plan"]["Shared Hit Blocks"]
    finally:
        await writer.close()
        await grower.close()

    assert log_pages > 200  # reading the log would show
    assert buffers < 50
