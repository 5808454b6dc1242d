"""Property: whatever the interleaving of concurrent appends, every stream is
numbered 1..n without holes and the global log is one gapless commit order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.envelope import AppendResult, NewEvent
from events.postgres.store import PostgresEventStore
from tests.factories import messages

# A plan: several concurrent callers, each doing appends in turn, each append
# (stream number, events in it, yield to the scheduler first?).
append_step = st.tuples(st.integers(0, 3), st.integers(1, 4), st.booleans())
Appended = tuple[list[NewEvent], AppendResult]

plans = st.lists(st.lists(append_step, min_size=1, max_size=6), min_size=1, max_size=6)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=plans)
async def test_any_interleaving_keeps_streams_contiguous_and_the_log_in_commit_order(
    pool: asyncpg.Pool, plan: list[list[tuple[int, int, bool]]]
) -> None:
    streams = [f"prop-{uuid.uuid4()}" for _ in range(4)]
    callers = [PostgresEventStore(pool, writers=1) for _ in plan]
    head = await callers[0].head_position()
    done: list[list[Appended]] = [[] for _ in plan]

    async def run(
        store: PostgresEventStore, steps: list[tuple[int, int, bool]], out: list[Appended]
    ) -> None:
        for stream, size, pause in steps:
            if pause:
                await asyncio.sleep(0)
            batch = messages(size)
            out.append((batch, await store.append(streams[stream], batch, expected_version=None)))

    try:
        await asyncio.gather(
            *(run(s, steps, out) for s, steps, out in zip(callers, plan, done, strict=True))
        )
        log = await callers[0].read_all(after=head, limit=10_000)
    finally:
        for store in callers:
            await store.close()

    total = sum(size for steps in plan for _, size, _ in steps)
    # The log after the start is exactly this example's events, gapless.
    assert [e.global_position for e in log] == list(range(head + 1, head + total + 1))
    by_position = {e.global_position: e for e in log}
    for caller in done:
        # Each caller's appends were committed in the order it awaited them...
        firsts = [result.first_global_position for _, result in caller]
        assert firsts == sorted(firsts)
        for batch, result in caller:
            # ...and each append sits where its result says, contiguously.
            stored = [by_position[p] for p in result.global_positions]
            assert [e.event_id for e in stored] == [e.event_id for e in batch]
            assert [e.stream_position for e in stored] == list(
                range(result.first_stream_position, result.last_stream_position + 1)
            )
    positions: dict[str, list[int]] = defaultdict(list)
    for event in log:
        positions[event.stream_id].append(event.stream_position)
    for stream_positions in positions.values():
        assert stream_positions == list(range(1, len(stream_positions) + 1))
