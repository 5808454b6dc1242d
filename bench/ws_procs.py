"""What bench.ws runs beside the servers: client and tap processes, tokens,
conversations, memory and CPU meters, and the run's JetStream streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.common import ROOT, log, process_cpu_seconds
from commands.auth import issue_token

JWT_SECRET = "ws-bench-secret-" + "x" * 32


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def token(sub: str) -> str:
    return issue_token(
        JWT_SECRET, sub=sub, role="admin", ttl=timedelta(hours=2), now=datetime.now(UTC)
    )


@contextlib.asynccontextmanager
async def own_stream(nats_url: str, prefix: str) -> AsyncIterator[None]:
    """Delete this run's JetStream streams (events, the presence bucket's) on the way out."""
    try:
        yield
    finally:
        import nats

        for stream in (f"{prefix.upper()}_EVENTS", f"KV_{prefix.upper()}_PRESENCE"):
            try:
                nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=1)
                try:
                    await nc.jetstream().delete_stream(stream)
                    log(f"JetStream stream {stream} deleted")
                finally:
                    await nc.close()
            except Exception as error:
                log(f"could not delete JetStream stream {stream}: {error!r}")


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def settled_rss(pid: int, seconds: float = 1.5) -> int:
    """RSS after the process has been left alone for a moment (median of 3)."""
    await asyncio.sleep(seconds)
    samples = []
    for _ in range(3):
        samples.append(rss(pid))
        await asyncio.sleep(0.2)
    return sorted(samples)[1]


class CpuMeter:
    """CPU used by named processes between ``start()`` and ``stop()`` (% of one
    core; the machine has two), plus ``pg``: the PostgreSQL backends serving
    this run's database (found by their process title), and ``rest``: the
    machine's busy time minus all of these (NATS, PostgreSQL's shared
    processes, and whatever else runs on the machine)."""

    def __init__(self, pids: dict[str, int], database: str) -> None:
        self.pids = pids
        self.database = database
        self._t0 = 0.0
        self._cpu0: dict[str, float] = {}
        self._pg0: dict[int, float] = {}
        self._machine0 = psutil.cpu_times()

    def _backends(self) -> dict[int, float]:
        found = {}
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if cmdline and cmdline[0].startswith("postgres:") and self.database in cmdline[0]:
                found[proc.pid] = process_cpu_seconds(proc.pid)
        return found

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        self._pg0 = self._backends()
        self._machine0 = psutil.cpu_times()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._t0
        used = {
            name: round(100 * (process_cpu_seconds(pid) - self._cpu0[name]) / wall, 1)
            for name, pid in self.pids.items()
        }
        pg = 0.0
        for pid, before in self._pg0.items():
            now_ = process_cpu_seconds(pid)
            if now_ == now_:  # not NaN: still there
                pg += now_ - before
        used["pg"] = round(100 * pg / wall, 1)
        now = psutil.cpu_times()
        fields = ("user", "system", "nice", "irq", "softirq", "steal")
        busy = sum(getattr(now, f) - getattr(self._machine0, f) for f in fields if hasattr(now, f))
        used["machine"] = round(100 * busy / wall, 1)
        used["rest"] = round(used["machine"] - sum(used[n] for n in (*self.pids, "pg")), 1)
        return used


class ClientProc:
    """A ``bench.ws_client`` process, driven by JSON lines."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process

    @classmethod
    async def start(
        cls, name: str, workdir: Path, module: str = "bench.ws_client", *args: str
    ) -> ClientProc:
        errors = (workdir / f"{name}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            limit=2**26,
            start_new_session=True,
        )
        errors.close()
        client = cls(name, process)
        await client._answer(30)
        return client

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _answer(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"client {self.name} exited ({self.process.returncode})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"client {self.name}: {answer.get('error')}")
        return answer

    async def request(self, timeout: float = 120, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        return await self._answer(timeout)

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.request(timeout=30, op="exit")
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def all_clients(clients: Sequence[ClientProc], **request: Any) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(c.request(**request) for c in clients)))


def ws_url(port: int, conversation_id: str, jwt: str | None) -> str:
    url = f"ws://127.0.0.1:{port}/ws/{conversation_id}"
    return f"{url}?token={jwt}" if jwt else url


class Tap:
    """``bench/ws_tap.py``: a plain NATS subscriber on the run's MessageSent
    subjects (as each ``parley serve`` has), in a process of its own. For each
    benchmark message it notes when it arrived and its ``recorded_at``
    (PostgreSQL's ``clock_timestamp()`` at the INSERT), which splits Parley's
    latency into *to the INSERT* (frame or request, command handler, group
    commit), *INSERT to NATS* (commit, NOTIFY, relay, JetStream) and *NATS to
    socket* (hub, session, socket, client)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, int]] = {}
        """content -> (arrived, recorded), monotonic ns"""
        self._proc: ClientProc | None = None
        self._workdir = Path()

    async def start(self, nats_url: str, prefix: str, workdir: Path) -> None:
        self._workdir = workdir
        self._proc = await ClientProc.start("tap", workdir, "bench.ws_tap", nats_url, prefix)

    async def sync(self) -> None:
        """Fetch what the tap saw since the last sync."""
        assert self._proc is not None
        path = self._workdir / "tap.json"
        await self._proc.request(op="dump", path=str(path))
        for content, (arrived, recorded) in json.loads(path.read_text()).items():
            self.seen[content] = (arrived, recorded)
        path.unlink()

    def split(self, content: str, sent: int) -> tuple[float, float] | None:
        """(send -> INSERT, INSERT -> on NATS) in ms, if the message was seen."""
        seen = self.seen.get(content)
        if seen is None:
            return None
        arrived, recorded = seen
        return (recorded - sent) / 1e6, (arrived - recorded) / 1e6

    def arrived(self, content: str) -> int | None:
        seen = self.seen.get(content)
        return None if seen is None else seen[0]

    async def stop(self) -> None:
        if self._proc is not None:
            await self._proc.stop()


def compression_of(name: str) -> str | None:
    return None if name == "none" else name
