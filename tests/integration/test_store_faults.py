"""The event store heals itself: connections killed, the server down, the
server frozen. Every append gets a definite answer within a bound — its result,
or ``StoreUnavailable`` (nothing written; a retry with the same ids is safe) —
and appends work again as soon as the database does.

The faults are real: ``pg_terminate_backend`` on the server, and a TCP proxy
(tests/faultproxy.py) between the store and PostgreSQL for outages and freezes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from events.envelope import AppendResult, NewEvent
from events.postgres.store import PostgresEventStore, create_pool
from events.store import StoreUnavailable
from tests.factories import messages, new_stream_id
from tests.faultproxy import FaultProxy, fault_proxy

ANSWER_WITHIN = 5.0
"""Seconds within which every append must be answered, whatever the fault."""


async def _terminate_backends(admin: asyncpg.Connection, database: str) -> int:
    return len(
        await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    )


async def _append_timed(
    store: PostgresEventStore, stream_id: str, events: list[NewEvent], expected: int | None
) -> tuple[AppendResult | StoreUnavailable, float]:
    started = time.monotonic()
    try:
        result: AppendResult | StoreUnavailable = await asyncio.wait_for(
            store.append(stream_id, events, expected), ANSWER_WITHIN + 5
        )
    except StoreUnavailable as error:
        result = error
    return result, time.monotonic() - started


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[FaultProxy]:
    parts = urlsplit(database_url)
    if not parts.hostname or parts.hostname.startswith("/") or parts.port is None:
        pytest.skip("PostgreSQL is reached over a unix socket here: no TCP link to break")
    async with fault_proxy(parts.hostname, parts.port) as proxy:
        yield proxy


@pytest.fixture
async def proxied_store(proxy: FaultProxy, database_url: str) -> AsyncIterator[PostgresEventStore]:
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    pool = await create_pool(url, min_size=1, max_size=6)
    store = PostgresEventStore(pool)
    try:
        yield store
    finally:
        proxy.restore()
        await store.close()
        await asyncio.wait_for(pool.close(), 10)


async def test_appends_work_again_after_every_backend_is_terminated(
    store: PostgresEventStore, database_url: str
) -> None:
    database = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(database_url)
    try:
        for _ in range(3):
            await store.append(new_stream_id(), messages(1), expected_version=0)
            assert await _terminate_backends(admin, database) >= 1
            # The next append finds its connection gone and takes a new one.
            result, took = await _append_timed(store, new_stream_id(), messages(1), 0)
            assert isinstance(result, AppendResult), result
            assert took < ANSWER_WITHIN
    finally:
        await admin.close()


async def test_appends_in_flight_when_connections_are_cut_each_get_a_definite_answer(
    proxied_store: PostgresEventStore, proxy: FaultProxy, store: PostgresEventStore
) -> None:
    # 40 writers append one event each, over and over; the link is cut
    # repeatedly under them. Each append is answered within the bound: a
    # result, or StoreUnavailable, which a retry with the same ids settles.
    written: dict[uuid.UUID, int] = {}  # event id -> global position
    slow: list[float] = []

    async def writer() -> None:
        for _ in range(40):
            events = messages(1)
            stream_id = new_stream_id()
            while True:
                result, took = await _append_timed(proxied_store, stream_id, events, 0)
                if took >= ANSWER_WITHIN:
                    slow.append(took)
                if isinstance(result, AppendResult):
                    written[events[0].event_id] = result.first_global_position
                    break
                await asyncio.sleep(0.05)

    writers = [asyncio.create_task(writer()) for _ in range(40)]
    cuts = 0
    cut_at = -1
    while not all(w.done() for w in writers):
        # Cut the link every 50 ms while they write, but only once an append
        # has committed since the last cut: on a loaded machine a new
        # connection can take longer than 50 ms, and cutting regardless would
        # starve every writer (a livelock of the test, not of the store).
        await asyncio.sleep(0.05)
        if len(written) > cut_at:
            cut_at = len(written)
            proxy.cut()
            cuts += 1
    await asyncio.gather(*writers)

    assert cuts >= 5
    assert slow == []
    assert len(written) == 40 * 40
    # Every event is in the log once, at the position its append reported.
    for event_id, position in written.items():
        found = await store.find_event(event_id)
        assert found is not None and found.global_position == position
    positions = sorted(written.values())
    assert len(set(positions)) == len(positions)


@pytest.mark.parametrize("fault", ["refuse", "freeze"])
async def test_while_the_database_is_away_appends_answer_store_unavailable_in_time(
    proxied_store: PostgresEventStore, proxy: FaultProxy, fault: str
) -> None:
    await proxied_store.append(new_stream_id(), messages(1), expected_version=0)
    proxy.refuse() if fault == "refuse" else proxy.freeze()

    answers = await asyncio.gather(
        *(_append_timed(proxied_store, new_stream_id(), messages(1), 0) for _ in range(10))
    )
    for result, took in answers:
        assert isinstance(result, StoreUnavailable), result
        assert took < ANSWER_WITHIN
        assert result.retry_after > 0

    proxy.restore()
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:  # writes work again within the bound
        result, _ = await _append_timed(proxied_store, new_stream_id(), messages(1), 0)
        if isinstance(result, AppendResult):
            break
        assert time.monotonic() < deadline, "appends did not recover"
        await asyncio.sleep(0.1)


async def test_a_tailer_hears_new_commits_after_its_listening_connection_is_cut(
    proxied_store: PostgresEventStore, proxy: FaultProxy, store: PostgresEventStore
) -> None:
    head = await proxied_store.head_position()
    assert not await proxied_store.wait_for_events(head + 10**9, 0.01)
    proxy.cut()

    waiting = asyncio.create_task(proxied_store.wait_for_events(head, 5.0))
    await store.append(new_stream_id(), messages(1), expected_version=0)  # another process
    assert await waiting
