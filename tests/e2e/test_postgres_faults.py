"""Issue 14: one PostgreSQL hiccup must not stop Parley.

Real ``parley serve`` processes (two nodes) and a ``parley worker`` run on
this test's own database and NATS prefix while several HTTP writers send
messages (each with a ``client_message_id``) and mark-reads (each with a
``command_id``), retrying 503s with the same ids. Five times, the test
terminates every backend of its database (``pg_terminate_backend``, from its
own connection), which is what a PostgreSQL restart or failover does to every
client. Each time: every command is answered within 5 s (a success, or 503
``unavailable`` with ``Retry-After``), writes succeed again within 5 s, and
``/health/ready`` answers 200 within 5 s after that. At the end the read
models equal an independent fold of the log, every acknowledged message is in
the log exactly once, nothing is doubled, and JetStream holds every event once.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from tests.conftest import MakeDatabase
from tests.e2e.cluster import running_cluster
from tests.e2e.conftest import SECRET
from tests.e2e.faults import (
    Writers,
    check_the_log,
    wait_for,
    wait_until_consumers_catch_up,
    wait_until_ready,
)

KILLS = 5
SETTINGS = {
    # A consumer behind the head with no progress for this long is "stalled"
    # and makes /health/ready answer 503: a worker that never recovers from
    # the kills shows within the 5 s of the readiness rule.
    "PARLEY_STALL_SECONDS": "3",
}
TERMINATE = """
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))
FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid()
"""


async def test_every_backend_terminated_five_times_under_writes(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> None:
    database_url = await make_database()
    database = urlsplit(database_url).path.lstrip("/")
    prefix = f"{nats_prefix}pg{uuid.uuid4().hex[:6]}"
    async with running_cluster(
        make_database,
        nats_url,
        nats_prefix,
        tmp_path,
        SETTINGS,
        nodes=2,
        database_url=database_url,
        prefix=prefix,
    ) as nodes:
        urls = [node.url for node in nodes]

        def logs() -> str:
            files = [node.log for node in nodes] + [tmp_path / "worker.log"]
            return "".join(f"\n--- {log}:\n{log.read_text()[-3000:]}" for log in files)

        conn = await asyncpg.connect(database_url)
        writers = Writers(urls, SECRET, count=6)
        try:
            async with httpx.AsyncClient() as http:

                async def all_ready() -> bool:
                    answers = [await http.get(f"{url}/health/ready") for url in urls]
                    return all(a.status_code == 200 for a in answers)

                await wait_for(all_ready, "ready at the start", timeout=30)
                writers.start()
                await writers.wait_for_successes(50)

                for kill in range(1, KILLS + 1):
                    terminated = await conn.fetchval(TERMINATE, database)
                    killed_at = time.monotonic()
                    # Each node's pool and the worker's connections (relay, its
                    # lock, the projections) were there to be terminated.
                    assert terminated >= 3, terminated
                    what = f"kill {kill} ({terminated} backends)"
                    recovered = await writers.wait_for_success_after(killed_at, what)
                    await wait_until_ready(http, urls, recovered, what)
                    await wait_until_consumers_catch_up(conn, recovered, what)
                    await writers.wait_for_successes(30)
            await writers.finish()
        except AssertionError as error:
            raise AssertionError(f"{error}{logs()}") from None
        finally:
            if not writers.stop.is_set():
                await writers.finish()
            await conn.close()

        assert writers.crashed() == []
        assert writers.violations == [], "\n".join(writers.violations[:20]) + logs()
        assert len(writers.acknowledged) >= 200
        events = await check_the_log(database_url, writers, nats_url, prefix)
        assert events > len(writers.acknowledged)
        for node in nodes:
            assert node.process.poll() is None, f"{node.url} died: {logs()}"
