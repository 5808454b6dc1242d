"""The web inbox at 10,000 conversations (issue 20): web/e2e/inbox_scale.mjs
scrolls a real `parley serve`'s inbox to its end in headless Chromium and
prints the frame times it measured in the page (the target: p95 under 20 ms),
the most rows and elements the page held at once, and checks the last
conversation, the tab counts, keyboard moves across the virtual list and the
phone width.

Frame times are the machine's as much as the page's: beside other work on two
cores a p95 of 33 ms was seen where a quiet run gives 16.8 (one frame at
60 Hz). So the suite checks what makes the list smooth — the virtual list
keeps under 100 rows in the page — and prints the p95 against its target;
``PARLEY_E2E_ENFORCE_FRAMES=1`` makes a missed target fail the run (for a
measurement on a quiet machine, scrolling 5 rows a frame as docs/BENCHMARKS.md
recorded; the suite scrolls 10, in half the time).

The conversations are seeded the way bench/read.py seeds a million: their
events COPYed into the log as the store writes them (bench/read_seed.py),
every read model rebuilt from it (`parley projections rebuild`'s code), and
the relay's checkpoint set at the head, as after a restore whose history was
published long ago — so `parley worker` starts caught up instead of
re-publishing 50,000 old events while the page is measured. The router is
off: the seeded agents never came online, and its taking their conversations
back (docs/ARCHITECTURE.md, "Routing") would move the counts under the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import read_seed as seed
from events.jetstream.relay import CHECKPOINT as RELAY
from events.postgres import checkpoints
from events.postgres.pool import create_pool
from events.postgres.store import PostgresEventStore
from parley.worker import projections
from projections.rebuild import rebuild
from tests.conftest import MakeDatabase
from tests.e2e.web_harness import System, run_browser, running_system, token

CONVERSATIONS = 10_000
AGENT = "agent-0"  # the staff member the browser signs in as: "Mine" is theirs
SCALE_TIMEOUT = 300.0
FRAME_P95_MS = 20.0
MOST_ROWS = 100


async def _seed(database_url: str) -> None:
    """10,000 conversations of two messages each, 3 agents (half assigned),
    4 teams, 5 labels (a third labelled), 7 in 10 closed."""
    shape = SimpleNamespace(
        conversations=CONVERSATIONS, messages=2, agents=3, assigned=0.5, labelled=0.3
    )
    pool = await create_pool(database_url, min_size=1, max_size=len(projections()) + 2)
    store = PostgresEventStore(pool, timeout=60.0)  # a loaded machine: reads may queue
    try:
        since = seed.start(shape)
        head = await seed.copy(pool, seed.directory(shape), seed.START, since)
        head = await seed.fill(pool, shape, head, since)
        await asyncio.gather(*(rebuild(pool, store, p) for p in projections()))
        async with pool.acquire() as conn:
            await checkpoints.save(conn, RELAY, head.position)
            await conn.execute("ANALYZE")
    finally:
        await store.close()
        await pool.close()


async def _expected(database_url: str) -> dict[str, object]:
    """What the page must show: the counts, the first and last rows (newest and
    oldest last message)."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        count = "SELECT count(*) FROM conversations WHERE NOT deleted AND "
        order = "SELECT client_name FROM conversations WHERE NOT deleted ORDER BY activity_at {0}, conversation_id {0} LIMIT 1"  # noqa: E501
        return {
            "total": await pool.fetchval(count + "true"),
            "mine": await pool.fetchval(count + "assignee_id = $1", AGENT),
            "unassigned": await pool.fetchval(count + "assignee_id IS NULL"),
            "first": await pool.fetchval(order.format("DESC")),
            "last": await pool.fetchval(order.format("ASC")),
        }
    finally:
        await pool.close()


@pytest.fixture
async def seeded(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> AsyncIterator[System]:
    url = await make_database()  # a database of this test's own, dropped at the run's end
    settings = {"PARLEY_ROUTER": "off"}
    async with running_system(
        url, nats_url, nats_prefix, tmp_path, prepare=_seed, settings=settings
    ) as system:
        yield system


async def test_a_10000_conversation_inbox_scrolls_smoothly_to_its_end(
    seeded: System, tmp_path: Path
) -> None:
    expected = await _expected(seeded.database_url)
    assert expected["total"] == CONVERSATIONS
    enforce = os.environ.get("PARLEY_E2E_ENFORCE_FRAMES") == "1"
    env = {
        "PARLEY_E2E_URL": seeded.server.url,
        "PARLEY_E2E_AGENT_TOKEN": token(AGENT, "agent"),
        "PARLEY_E2E_EXPECT": json.dumps(expected),
        "PARLEY_E2E_FRAME_P95_MS": str(FRAME_P95_MS),
        "PARLEY_E2E_ENFORCE_FRAMES": os.environ.get("PARLEY_E2E_ENFORCE_FRAMES", ""),
        "PARLEY_E2E_MOST_ROWS": str(MOST_ROWS),
        # A measurement scrolls as docs/BENCHMARKS.md recorded (5 rows a
        # frame); the suite twice as fast, in half the time.
        "PARLEY_E2E_ROWS_PER_FRAME": "5" if enforce else "10",
        "PARLEY_E2E_SCREENSHOTS": os.environ.get("PARLEY_E2E_SCALE_SHOTS", str(tmp_path)),
    }
    report = await run_browser(
        "inbox_scale.mjs", env, seeded, SCALE_TIMEOUT, what="the scale run", passed=None
    )
    # The script checks its own limits; the figures it printed are checked here too.
    figures = re.search(r"frame-time p95 ([\d.]+) ms .* most rows in the page (\d+)", report)
    assert figures is not None, report
    assert int(figures[2]) < MOST_ROWS
    if enforce:
        assert float(figures[1]) < FRAME_P95_MS
