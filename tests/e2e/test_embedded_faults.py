"""Issue 14 under ``parley run``: the embedded servers fail while clients write,
and the whole system heals by itself.

1. PostgreSQL: the postmaster is killed (SIGKILL), with one of its processes
   frozen so the old server's shared memory stays in use for a while (as a
   backend stuck in I/O would); ``parley run``'s supervisor ends the leftover
   and starts PostgreSQL again on the same socket. ``/health/ready`` answers
   503 (naming postgres) while no postmaster runs and 200 within 5 s of its
   return; writes succeed again within 5 s.
2. NATS, a long outage: nats-server is frozen (SIGSTOP) for longer than the
   stream's duplicate window (shortened to 2 s), then resumed.
3. NATS, a crash while the relay streams a backlog (frozen, resumed, killed
   at once: JetStream stored events whose acks are lost); the supervisor
   starts it again on the same port and store, and the test keeps the new
   one frozen until 5 s after the crash, so whatever the relay resends comes
   after the duplicate window.

Throughout, every command is answered within 5 s (a success, or 503
``unavailable`` with ``Retry-After``). Afterwards: the read models equal an
independent fold of the log, every acknowledged message is in the log once,
nothing is doubled, JetStream holds exactly the log's events, and a signal
still stops everything.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import nats.js.errors
import psutil
import pytest

from events.jetstream.relay import Topology
from tests.conftest import MASTER_KEY_ENV
from tests.e2e.faults import (
    RECOVER_WITHIN,
    Readiness,
    Writers,
    check_the_log,
    ready,
    wait_for,
    wait_until_consumers_catch_up,
    wait_until_ready,
)
from tests.e2e.test_run import free_port, parley_command, servers_using, still_running

SECRET = "e2e-secret-for-embedded-faults-at-least-32-bytes"
DUPLICATE_WINDOW = 2
NATS_OUTAGE = 5.0  # seconds: longer than the duplicate window
PREFIX = "parley"  # parley run's default; its NATS is its own
ORPHANS_GONE_WITHIN = 0.5  # seconds after the postmaster's death (the supervisor waits 1 s)


class Prober:
    """Asks /health/ready over and over in the background."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.answers: list[Readiness] = []
        self._task = asyncio.create_task(self._probe(http, url))

    async def _probe(self, http: httpx.AsyncClient, url: str) -> None:
        while True:
            self.answers.append(await ready(http, url))
            await asyncio.sleep(0.05)

    async def stop(self) -> list[Readiness]:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.answers


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        return pid if process.status() != psutil.STATUS_ZOMBIE else None
    except (OSError, ValueError, psutil.NoSuchProcess):
        return None


def nats_server(data_dir: Path) -> psutil.Process | None:
    for proc in servers_using(data_dir):
        try:
            if proc.name() == "nats-server" and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def nats_port(proc: psutil.Process) -> int:
    args = proc.cmdline()
    return int(args[args.index("-p") + 1])


async def duplicate_window(nats_url: str) -> float:
    """The events stream's duplicate window (seconds), once the relay made it."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        async with asyncio.timeout(10):
            while True:
                try:
                    info = await js.stream_info(Topology(PREFIX).stream)
                except nats.js.errors.NotFoundError:
                    await asyncio.sleep(0.05)
                else:
                    return float(info.config.duplicate_window or 0)
    finally:
        await nc.close()


def start_parley_run(env: dict[str, str], stdout: Path, stderr: Path) -> subprocess.Popen[bytes]:
    with stdout.open("wb") as out, stderr.open("wb") as err:
        return subprocess.Popen([*parley_command(), "run"], env=env, stdout=out, stderr=err)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data folder outside pytest's: pytest makes /tmp/pytest-of-<user>
    private at the start of every session (another one may start meanwhile),
    and the embedded PostgreSQL runs as a user of its own."""
    with tempfile.TemporaryDirectory(prefix="parley-embedded-faults-") as folder:
        yield Path(folder) / "data"


async def test_embedded_postgres_and_nats_fail_and_heal_under_writes(
    tmp_path: Path, data_dir: Path
) -> None:
    pgdata = data_dir / "postgres"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pg_url = f"postgresql://postgres@/postgres?host={pgdata}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_HTTP_PORT": str(port),
        "PARLEY_JWT_SECRET": SECRET,
        **MASTER_KEY_ENV,
        "PARLEY_JETSTREAM_DUPLICATE_WINDOW_SECONDS": str(DUPLICATE_WINDOW),
        "PARLEY_STALL_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
    }
    stderr_path = tmp_path / "stderr.txt"
    proc = start_parley_run(env, tmp_path / "stdout.txt", stderr_path)

    def output() -> str:
        return f"\n--- parley run stderr:\n{stderr_path.read_text()[-6000:]}"

    writers = Writers([url], SECRET, count=4)
    try:
        async with httpx.AsyncClient() as http:

            async def is_ready() -> bool:
                assert proc.poll() is None, f"parley run exited{output()}"
                return (await ready(http, url)).status == 200

            await wait_for(is_ready, "ready at the start", timeout=60)
            nats_proc = nats_server(data_dir)
            assert nats_proc is not None
            nats_url = f"nats://127.0.0.1:{nats_port(nats_proc)}"
            # The outages below are longer than this window: a republished
            # event is not dropped by JetStream as a duplicate any more.
            assert await duplicate_window(nats_url) == DUPLICATE_WINDOW
            writers.start()
            await writers.wait_for_successes(50)

            # -- 1. PostgreSQL killed, one of its processes frozen ----------------------
            old = postmaster_pid(pgdata)
            assert old is not None
            children = psutil.Process(old).children()
            leftover = next((c for c in children if "checkpointer" in " ".join(c.cmdline())), None)
            assert leftover is not None, [c.cmdline() for c in children]
            leftover.suspend()  # holds the old shared memory until it is killed
            prober = Prober(http, url)
            os.kill(old, signal.SIGKILL)
            killed_at, killed_wall = time.monotonic(), time.time()

            async def back() -> bool:
                return postmaster_pid(pgdata) not in (None, old)

            await wait_for(back, "PostgreSQL started again", timeout=20)
            new = psutil.Process(postmaster_pid(pgdata))
            back_at = killed_at + (new.create_time() - killed_wall)
            assert not still_running([leftover]), "the frozen leftover was not ended"
            recovered = await writers.wait_for_success_after(back_at, "PostgreSQL back")
            await wait_until_ready(http, [url], max(recovered, back_at), "PostgreSQL back")
            db = await asyncpg.connect(pg_url)
            await wait_until_consumers_catch_up(db, recovered, "PostgreSQL back")
            answers = await prober.stop()
            # The old backends may finish what they were doing when the
            # postmaster died (so may a readiness check); half a second later
            # none is left, and PostgreSQL is down until the new postmaster.
            down_from = killed_at + ORPHANS_GONE_WITHIN
            while_down = [a for a in answers if a.sent >= down_from and a.answered < back_at]
            assert while_down, "no readiness answer while PostgreSQL was down"
            assert all(
                a.status == 503 and a.body and a.body["checks"]["postgres"] != "ok"
                for a in while_down
            ), while_down
            await writers.wait_for_successes(30)

            # -- 2. NATS frozen for longer than the duplicate window -------------------
            nats_proc.suspend()
            frozen_at = time.monotonic()
            prober = Prober(http, url)
            await asyncio.sleep(NATS_OUTAGE)
            nats_proc.resume()
            resumed_at = time.monotonic()
            answers = await prober.stop()
            assert any(
                a.status == 503 and a.body and a.body["checks"]["nats"] != "ok"
                for a in answers
                if a.answered < resumed_at
            ), f"/health/ready never named NATS while it was frozen: {answers}"
            await wait_until_ready(http, [url], resumed_at, "NATS resumed")
            await writers.wait_for_success_after(resumed_at, "NATS resumed")
            await wait_until_consumers_catch_up(db, resumed_at, "NATS resumed")
            assert resumed_at - frozen_at > DUPLICATE_WINDOW
            await writers.wait_for_successes(30)

            # -- 3. NATS killed while the relay streams a backlog, away past the window --
            nats_proc.suspend()  # a backlog builds up
            await asyncio.sleep(NATS_OUTAGE / 2)
            nats_proc.resume()  # it stores what the relay had sent, the backlog streams...
            await asyncio.sleep(0.3)
            nats_proc.kill()  # ...when it dies: the acks of events it stored are lost
            killed_at = time.monotonic()

            async def restarted() -> bool:
                found = nats_server(data_dir)
                return found is not None and found.pid != nats_proc.pid

            await wait_for(restarted, "nats-server started again", timeout=RECOVER_WITHIN)
            replacement = nats_server(data_dir)
            assert replacement is not None
            assert f"nats://127.0.0.1:{nats_port(replacement)}" == nats_url  # the same port
            # Frozen before the relay reconnects (nats-py waits 2 s between
            # attempts): whatever it resends reaches JetStream after the window.
            replacement.suspend()
            await asyncio.sleep(max(0.0, killed_at + NATS_OUTAGE - time.monotonic()))
            replacement.resume()
            back_at = time.monotonic()
            await wait_until_ready(http, [url], back_at, "NATS restarted")
            await writers.wait_for_success_after(back_at, "NATS restarted")
            await wait_until_consumers_catch_up(db, back_at, "NATS restarted")
            await db.close()
            await writers.wait_for_successes(30)
        await writers.finish()

        assert writers.crashed() == []
        assert writers.violations == [], "\n".join(writers.violations[:20])
        log = stderr_path.read_text()
        assert "embedded PostgreSQL stopped unexpectedly" in log
        assert "embedded nats-server stopped unexpectedly" in log
        assert "embedded PostgreSQL restarted" in log
        assert "embedded nats-server restarted" in log

        await check_the_log(pg_url, writers, nats_url, PREFIX)

        servers = servers_using(data_dir)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, output()
    except AssertionError as error:
        raise AssertionError(f"{error}{output()}") from None
    finally:
        if not writers.stop.is_set():
            await writers.finish()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for process in servers_using(data_dir):  # never leave a server behind
            try:
                process.resume()
                process.kill()
            except psutil.NoSuchProcess:
                continue

    deadline = time.monotonic() + 5
    while still_running(servers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert still_running(servers) == []
