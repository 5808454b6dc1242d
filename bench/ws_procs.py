"""What bench.ws runs beside the servers: helper processes, meters, a lean HTTP client."""

import asyncio
import contextlib
import functools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import psutil

from bench import common

JWT_SECRET = "ws-bench-secret-" + "x" * 32
token = functools.partial(common.token, JWT_SECRET)  # an admin's, for a subject


def ws_url(port: int, conversation_id: str, jwt: str | None) -> str:
    url = f"ws://127.0.0.1:{port}/ws/{conversation_id}"
    return f"{url}?token={jwt}" if jwt else url


async def settled_rss(pid: int, seconds: float = 1.5) -> int:
    """RSS after the process has been left alone for a moment (median of 3)."""
    await asyncio.sleep(seconds)
    samples = []
    for _ in range(3):
        samples.append(int(psutil.Process(pid).memory_info().rss))
        await asyncio.sleep(0.2)
    return sorted(samples)[1]


class CpuMeter:
    """CPU % of one core from ``start()`` to ``stop()``: ``pids``, ``pg`` backends, ``rest``."""

    def __init__(self, pids: dict[str, int], database: str) -> None:
        self.pids, self.database = pids, database
        self.start()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {name: common.process_cpu_seconds(pid) for name, pid in self.pids.items()}
        cmds = {p.pid: (p.info["cmdline"] or [""])[0] for p in psutil.process_iter(["cmdline"])}
        mine = [pid for pid, c in cmds.items() if c.startswith("postgres:") and self.database in c]
        self._pg0 = {pid: common.process_cpu_seconds(pid) for pid in mine}  # this run's backends
        self._busy0 = common.cpu_ticks()[0]

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._t0
        spent = {n: common.process_cpu_seconds(pid) - self._cpu0[n] for n, pid in self.pids.items()}
        pg = [common.process_cpu_seconds(pid) - before for pid, before in self._pg0.items()]
        spent["pg"] = sum(x for x in pg if x == x)  # NaN: gone
        spent["machine"] = (common.cpu_ticks()[0] - self._busy0) / os.sysconf("SC_CLK_TCK")
        used = {name: round(100 * seconds / wall, 1) for name, seconds in spent.items()}
        used["rest"] = round(used["machine"] - sum(used[n] for n in (*self.pids, "pg")), 1)
        return used


class Agent:
    """A ``bench.ws_client`` process (a client, or with ``--tap`` the tap)."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name, self.process, self.seen = name, process, dict[str, list[int]]()

    @classmethod
    async def start(cls, name: str, workdir: Path, *args: str) -> Self:
        options: Any = {"cwd": common.ROOT, "limit": 2**26, "start_new_session": True}
        options |= {"stdin": asyncio.subprocess.PIPE, "stdout": asyncio.subprocess.PIPE}
        command = [sys.executable, "-m", "bench.ws_client", *args]
        with (workdir / f"{name}.log").open("wb") as errors:
            process = await asyncio.create_subprocess_exec(*command, stderr=errors, **options)
        agent = cls(name, process)
        await agent.request(30)  # its first answer: it is up
        return agent

    async def request(self, timeout: float = 120, **request: Any) -> dict[str, Any]:
        """Send ``request`` (if any), then read the answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        if request:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"client {self.name} exited ({self.process.returncode})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"client {self.name}: {answer.get('error')}")
        return answer

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.request(timeout=30, op="exit")
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def sync(self) -> None:
        """Fetch what the tap saw since the last sync: content -> (arrived, recorded)."""
        self.seen.update((await self.request(op="dump"))["seen"])

    def split(self, tag: str, n: int, sent: int, samples: dict[str, list[float]]) -> int | None:
        """Message ``n``'s send -> INSERT -> NATS ms into ``samples``; when it reached NATS."""
        if (seen := self.seen.get(f"{tag}|{n}|{sent}")) is None:
            return None
        arrived, recorded = seen
        samples["to_log"].append((recorded - sent) / 1e6)
        samples["log_to_nats"].append((arrived - recorded) / 1e6)
        return arrived


@dataclass
class Rig:
    """What the parts share: options, servers (fresh ones by label), clients, tap, CPU meter."""

    args: Any
    servers: dict[str, common.Proc]
    servers_up: Any  # label -> an async context of fresh servers
    clients: list[Agent]
    tap: Agent
    cpu: CpuMeter

    async def all_clients(self, **request: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(c.request(**request) for c in self.clients)))


class HttpPool:
    """Keep-alive HTTP/1.1 over asyncio streams: tens of µs a request, where httpx costs ms."""

    def __init__(self, port: int, size: int, headers: Mapping[str, str]) -> None:
        self.port, self.size, self.failures = port, size, Counter[str]()
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle = asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]()
        self.all, self.pending = list[asyncio.StreamWriter](), set[asyncio.Task[None]]()

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.all.append(writer)
        self.idle.put_nowait((reader, writer))

    async def __aenter__(self) -> Self:
        for _ in range(self.size):
            await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(*self.pending, return_exceptions=True)
        for writer in self.all:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def post(self, path: str, body: bytes) -> int:
        """POST ``body`` (JSON) to ``path``: the status."""
        reader, writer = await self.idle.get()
        try:
            head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{self.head}"
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(head.encode() + body)
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])  # a bad status line: IndexError, ValueError
            headers = dict(line.lower().partition(":")[::2] for line in lines[1:] if line)
            await reader.readexactly(int(headers.get("content-length", 0)))
        except BaseException:
            writer.close()  # in an unknown state: replace it
            with contextlib.suppress(Exception):
                await self.open()
            raise
        self.idle.put_nowait((reader, writer))
        return status

    def send(self, path: str, body: bytes, sent: int, into: list[float] | None) -> None:
        """POST in the background: ms from ``sent`` to its answer into ``into``, or a failure."""

        async def timed() -> None:
            try:
                if (status := await self.post(path, body)) not in (201, 202):
                    self.failures[f"http {status}"] += 1
                elif into is not None:
                    into.append((time.monotonic_ns() - sent) / 1e6)
            except (OSError, LookupError, ValueError, asyncio.IncompleteReadError) as error:
                self.failures[type(error).__name__] += 1

        self.pending.add(task := asyncio.create_task(timed()))
        task.add_done_callback(self.pending.discard)
