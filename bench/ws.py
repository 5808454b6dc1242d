"""The WebSocket edge: end-to-end latency, fan-out against a bare Litestar
broadcast, and memory per idle socket.

Run from the repository root::

    .venv/bin/python -m bench.ws [--json]

What one run does:

1. Creates a throwaway database on ``--database-url`` (an admin URL), runs
   ``parley migrate`` on it, and starts ``parley serve --log-level warning``
   and ``parley worker`` (relay and projections) on it and on ``--nats-url``
   with a NATS prefix of its own (``PARLEY_WS_HEARTBEAT_SECONDS=600``), plus
   the bare server ``bench/ws_bare.py``, served by the same code as ``parley
   serve`` (uvicorn, uvloop, httptools, default WebSocket settings). At the end
   it stops them, drops the database and deletes its JetStream stream, also
   on an error or Ctrl-C.
2. **(c) memory per idle socket**: RSS (psutil) of a ``parley serve``
   process before and after one client process (``bench/ws_client.py``)
   opens ``--idle-sockets`` sockets (100 per conversation) and has every one's
   READY, divided by their number; the same for the bare server. Done with the
   client offering permessage-deflate (as browsers do, and the ``websockets``
   default) and without it, each in fresh server processes (memory freed by
   closed sockets is reused, so a second measurement in the same process would
   count too little), after 50 sockets opened and closed to warm up.
3. **(a) end-to-end latency**: ``--e2e-senders`` conversations, each with one
   subscriber socket (an admin token) and one sender socket (an admin token of
   its own: the rate limit is per user), in this process. SEND_MESSAGE frames
   go out at a steady ``--e2e-rate`` in all (every sender once per
   ``senders/rate`` seconds, staggered); each content is a unique id carrying
   the send time. Latency: from just before the frame is handed to the
   socket's ``send`` (``--send-via ws``; ``http``: just before the ``POST
   /api/messages`` is handed to ``bench/ws_http.py``, a lean keep-alive
   client) to the MESSAGE_CREATED's arrival at the conversation's subscriber
   socket, i.e. through PostgreSQL, the relay (``parley worker``), JetStream,
   the hub and the socket. Also send -> ACK (or -> HTTP response).
4. **(b) fan-out**: ``--fanout-sockets`` sockets, ``--per-conversation`` per
   conversation, held by ``--clients`` client processes (each an equal share
   of every conversation), on Parley and, with the same URLs' shape, on the
   bare server. A driver here (``bench/ws_http.py``) POSTs ``--fanout-rate``
   messages/s in all (round robin over the conversations): to Parley's ``POST
   /api/messages``, to the bare server's ``POST /broadcast`` (same body; it
   answers at once and sends one frame of Parley's shape to each socket of the
   conversation). Rounds alternate bare, Parley, bare, Parley, ...
   (``--rounds`` each), each with a warm-up; figures are over all rounds
   pooled, and per round (the machine is shared and noisy: compare a Parley
   round with the bare round just before it). Delivery latency is from the
   POST's send time to the frame's arrival at each socket; *spread* is from the
   first socket that got a message to each of the others (the fan-out alone,
   without the path to the node). Deliveries/s: measured deliveries over the
   time from the first measured send to the last delivery.

A NATS tap (``bench/ws_tap.py``, a process of its own) splits Parley's
latency: send -> INSERT (PostgreSQL's ``recorded_at``), INSERT -> the event on
NATS (commit, NOTIFY, relay), NATS -> socket (hub, session, socket, client).

Every client is Python on the same 2 cores as the servers, PostgreSQL and
NATS, so its cost is in every figure; the CPU columns say who used what
(``pg``: this run's PostgreSQL backends; ``rest``: everything else busy on
the machine, NATS included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import resource
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import psutil
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.databases import throwaway_database
from bench.ws_http import HttpError, HttpPool
from commands.auth import issue_token

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
JWT_SECRET = "ws-bench-secret-" + "x" * 32
TARGET_E2E_P99_MS = 50.0
TARGET_RATE_RATIO = 0.70
TARGET_P99_FACTOR = 2.0
TARGET_IDLE_KIB = 50.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def git_revision() -> str:
    """The commit measured, and whether the tree differs from it (not counting bench/)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def token(sub: str) -> str:
    return issue_token(
        JWT_SECRET, sub=sub, role="admin", ttl=timedelta(hours=2), now=datetime.now(UTC)
    )


# -- the system under test ------------------------------------------------------------


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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(name: str, command: list[str], env: dict[str, str], workdir: Path, port: int = 0) -> Proc:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop it ourselves
        )
    return Proc(name, process, log_path, port)


def stop(proc: Proc) -> None:
    if proc.process.poll() is None:
        proc.process.send_signal(signal.SIGTERM)
        try:
            proc.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()


async def wait_live(proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=2) as client:
        while True:
            if proc.process.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited ({proc.process.returncode}):\n{proc.tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health/live")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not answer within {timeout:g} s")
            await asyncio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return float("nan")
    return times.user + times.system


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
                found[proc.pid] = cpu_seconds(proc.pid)
        return found

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._pg0 = self._backends()
        self._machine0 = psutil.cpu_times()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._t0
        used = {
            name: round(100 * (cpu_seconds(pid) - self._cpu0[name]) / wall, 1)
            for name, pid in self.pids.items()
        }
        pg = 0.0
        for pid, before in self._pg0.items():
            now_ = cpu_seconds(pid)
            if now_ == now_:  # not NaN: still there
                pg += now_ - before
        used["pg"] = round(100 * pg / wall, 1)
        now = psutil.cpu_times()
        fields = ("user", "system", "nice", "irq", "softirq", "steal")
        busy = sum(getattr(now, f) - getattr(self._machine0, f) for f in fields if hasattr(now, f))
        used["machine"] = round(100 * busy / wall, 1)
        used["rest"] = round(used["machine"] - sum(used[n] for n in (*self.pids, "pg")), 1)
        return used


# -- client processes ----------------------------------------------------------------


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


# -- setup -----------------------------------------------------------------------------


async def create_conversations(base_url: str, admin: str, count: int) -> list[str]:
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {admin}"}
    ) as client:

        async def one(i: int) -> str:
            async with gate:
                body = {"client": {"id": f"c-{i}", "name": f"Client {i}"}, "channel": "web"}
                response = await client.post("/api/conversations", json=body)
                response.raise_for_status()
                return str(response.json()["conversation_id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def ws_url(port: int, conversation_id: str, jwt: str | None) -> str:
    url = f"ws://127.0.0.1:{port}/ws/{conversation_id}"
    return f"{url}?token={jwt}" if jwt else url


# -- (c) memory per idle socket --------------------------------------------------------


@dataclass
class MemoryResult:
    server: str
    compression: str
    sockets: int
    connected: int
    connect_seconds: float
    rss_before: int
    rss_after: int
    rss_after_close: int
    kib_per_socket: float = 0.0

    def __post_init__(self) -> None:
        self.kib_per_socket = (self.rss_after - self.rss_before) / 1024 / max(1, self.connected)


async def part_memory(
    client: ClientProc,
    start_servers: Callable[[str], Awaitable[dict[str, Proc]]],
    conversations: Sequence[str],
    sockets: int,
    per_conversation: int,
) -> list[MemoryResult]:
    """Each server, for each compression setting, in a fresh process of its own:
    memory a process freed (sockets closed) is reused, so a second
    measurement in the same process would count too little."""
    results = []
    for compression in ("deflate", "none"):
        servers = await start_servers(f"mem-{compression}")
        try:
            for name, proc in servers.items():
                jwt = token("mem-idle") if name == "parley" else None
                urls = [
                    ws_url(
                        proc.port, conversations[i // per_conversation % len(conversations)], jwt
                    )
                    for i in range(sockets)
                ]
                # warm the code paths first (imports, caches, pools), so that
                # only what a socket holds is counted
                await client.request(
                    op="connect", name="warm", urls=urls[:50], compression=_compression(compression)
                )
                await client.request(op="close", name="warm")
                before = await settled_rss(proc.pid)
                answer = await client.request(
                    op="connect", name="idle", urls=urls, compression=_compression(compression)
                )
                after = await settled_rss(proc.pid)
                await client.request(op="close", name="idle")
                after_close = await settled_rss(proc.pid, 0.5)
                result = MemoryResult(
                    name,
                    compression,
                    sockets,
                    answer["connected"],
                    answer["seconds"],
                    before,
                    after,
                    after_close,
                )
                log(
                    f"(c) {name}, {compression}: {result.connected} sockets in "
                    f"{result.connect_seconds:.1f} s, {result.kib_per_socket:.1f} KiB each"
                )
                results.append(result)
        finally:
            for proc in servers.values():
                stop(proc)
    return results


def _compression(name: str) -> str | None:
    return None if name == "none" else name


# -- the NATS tap ---------------------------------------------------------------------


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


# -- (a) end-to-end latency ------------------------------------------------------------


class _Frame(msgspec.Struct):
    type: str
    content: str | None = None
    ref: str | None = None
    code: str | None = None


_decode = msgspec.json.Decoder(_Frame).decode


@dataclass
class E2EResult:
    send_via: str
    rate: float
    seconds: float
    senders: int
    sent: int
    received: int
    lost: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    send_lag_p99_ms: float
    """How late the generator was with its sends (it must keep its rate)."""
    to_log_p50_ms: float
    to_log_p99_ms: float
    log_to_nats_p50_ms: float
    log_to_nats_p99_ms: float
    nats_to_socket_p50_ms: float
    nats_to_socket_p99_ms: float
    window_p99_ms: list[float]
    """p99 of each 5 s of sends, to show how steady it was."""
    errors: dict[str, int]
    cpu: dict[str, float]


async def _open_ready(url: str, compression: str | None) -> ClientConnection:
    ws = await connect(url, compression=compression, ping_interval=None, open_timeout=60)
    while _decode(await asyncio.wait_for(ws.recv(), 60)).type != "READY":
        pass
    return ws


async def part_e2e(
    serve: Proc,
    conversations: Sequence[str],
    args: argparse.Namespace,
    cpu: CpuMeter,
    tap: Tap,
) -> E2EResult:
    compression = _compression(args.compression)
    senders = len(conversations)
    gate = asyncio.Semaphore(50)

    async def opened(url: str) -> ClientConnection:
        async with gate:
            return await _open_ready(url, compression)

    run_id = secrets.token_hex(3)
    subscribers = await asyncio.gather(
        *(
            opened(ws_url(serve.port, c, token(f"e2e-sub-{run_id}-{i}")))
            for i, c in enumerate(conversations)
        )
    )
    sending: list[ClientConnection] = []
    if args.send_via == "ws":
        sending = list(
            await asyncio.gather(
                *(
                    opened(ws_url(serve.port, c, token(f"e2e-send-{run_id}-{i}")))
                    for i, c in enumerate(conversations)
                )
            )
        )
    log(f"(a) {len(subscribers)} subscriber and {len(sending)} sender sockets ready")

    sent_at: dict[int, int] = {}
    latencies: list[float] = []
    received_at: dict[int, int] = {}
    acks: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    warmup = round(args.e2e_warmup * args.e2e_rate)
    total = warmup + round(args.e2e_seconds * args.e2e_rate)
    measuring_from = warmup  # message numbers below this are the warm-up
    expected = total - warmup
    received = 0
    all_received = asyncio.Event()

    async def read_subscriber(ws: ClientConnection) -> None:
        nonlocal received
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.monotonic_ns()
                frame = _decode(raw)
                if frame.type == "MESSAGE_CREATED" and frame.content:
                    _, number, sent = frame.content.split("|")
                    if int(number) >= measuring_from:
                        latencies.append((now - int(sent)) / 1e6)
                        received_at[int(number)] = now
                        received += 1
                        if received >= expected:
                            all_received.set()

    async def read_sender(ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.monotonic_ns()
                frame = _decode(raw)
                if frame.type == "ACK" and frame.ref is not None:
                    number = int(frame.ref)
                    if number >= measuring_from and number in sent_at:
                        acks.append((now - sent_at[number]) / 1e6)
                elif frame.type == "ERROR":
                    errors[frame.code or "?"] += 1

    readers = [asyncio.create_task(read_subscriber(ws)) for ws in subscribers]
    readers += [asyncio.create_task(read_sender(ws)) for ws in sending]
    posts: set[asyncio.Task[None]] = set()
    http = HttpPool("127.0.0.1", serve.port, 64, {"Authorization": f"Bearer {token('e2e-http')}"})
    if args.send_via == "http":
        await http.__aenter__()

    async def post(number: int, conversation_id: str, content: str) -> None:
        body = msgspec.json.encode({"conversation_id": conversation_id, "content": content})
        try:
            status, _ = await http.post("/api/messages", body)
            if status != 201:
                errors[f"http {status}"] += 1
            elif number >= measuring_from:
                acks.append((time.monotonic_ns() - sent_at[number]) / 1e6)
        except (OSError, asyncio.IncompleteReadError, HttpError) as error:
            errors[type(error).__name__] += 1

    lags: list[float] = []
    interval = 1 / args.e2e_rate
    t0 = time.monotonic() + 0.2
    for number in range(total):
        if number == warmup:
            cpu.start()
        due = t0 + number * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.monotonic() - due) * 1000)
        which = number % senders
        now = time.monotonic_ns()
        content = f"e2e|{number}|{now}"
        sent_at[number] = now
        if args.send_via == "ws":
            frame = json.dumps({"type": "SEND_MESSAGE", "content": content, "ref": str(number)})
            await sending[which].send(frame)
        else:
            task = asyncio.create_task(post(number, conversations[which], content))
            posts.add(task)
            task.add_done_callback(posts.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_received.wait(), 5)
    usage = cpu.stop()
    if posts:
        await asyncio.gather(*posts, return_exceptions=True)
    if args.send_via == "http":
        await http.__aexit__()
    for ws in [*subscribers, *sending]:
        with contextlib.suppress(Exception):
            await ws.close()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await tap.sync()
    to_log: list[float] = []
    log_to_nats: list[float] = []
    nats_to_socket: list[float] = []
    for number, at in received_at.items():
        content = f"e2e|{number}|{sent_at[number]}"
        split, at_nats = tap.split(content, sent_at[number]), tap.arrived(content)
        if split is not None and at_nats is not None:
            to_log.append(split[0])
            log_to_nats.append(split[1])
            nats_to_socket.append((at - at_nats) / 1e6)
    windows: dict[int, list[float]] = defaultdict(list)
    start_ns = sent_at.get(warmup, 0)
    for number, at in received_at.items():
        windows[(sent_at[number] - start_ns) // 5_000_000_000].append((at - sent_at[number]) / 1e6)
    return E2EResult(
        send_via=args.send_via,
        rate=args.e2e_rate,
        seconds=args.e2e_seconds,
        senders=senders,
        sent=expected,
        received=received,
        lost=expected - received,
        p50_ms=percentile(latencies, 50),
        p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=float("nan")),
        ack_p50_ms=percentile(acks, 50),
        ack_p99_ms=percentile(acks, 99),
        send_lag_p99_ms=percentile(lags[warmup:], 99),
        to_log_p50_ms=percentile(to_log, 50),
        to_log_p99_ms=percentile(to_log, 99),
        log_to_nats_p50_ms=percentile(log_to_nats, 50),
        log_to_nats_p99_ms=percentile(log_to_nats, 99),
        nats_to_socket_p50_ms=percentile(nats_to_socket, 50),
        nats_to_socket_p99_ms=percentile(nats_to_socket, 99),
        window_p99_ms=[round(percentile(windows[w], 99), 1) for w in sorted(windows)],
        errors=dict(errors),
        cpu=usage,
    )


# -- (b) fan-out -------------------------------------------------------------------------


class Samples:
    """Named latency samples (ms) of one round; the result pools the rounds."""

    def __init__(self) -> None:
        self.named: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, values: Sequence[float]) -> None:
        self.named[name].extend(values)

    def quantiles(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "n": len(v),
                "p50": percentile(v, 50),
                "p99": percentile(v, 99),
                "max": max(v, default=float("nan")),
            }
            for name, v in self.named.items()
        }


@dataclass
class FanoutRound:
    server: str
    round: int
    messages: int
    posted_ok: int
    deliveries: int
    expected: int
    seconds: float
    deliveries_per_s: float
    latency: dict[str, dict[str, float]]
    """``delivery`` (POST send -> socket), ``spread`` (first delivery of the
    message -> this one), ``post`` (POST -> its response); Parley also
    ``to_log`` (POST send -> INSERT) and ``log_to_nats`` (INSERT -> the event
    on NATS), per message, and ``nats_to_socket``, per delivery."""
    cpu: dict[str, float]
    close_codes: dict[str, int]


@dataclass
class FanoutResult:
    server: str
    rounds: list[FanoutRound]
    deliveries_per_s: float
    delivered_fraction: float
    latency: dict[str, dict[str, float]]
    rss_before: int
    rss_connected: int
    connect_seconds: float

    @property
    def p50_ms(self) -> float:
        return self.latency["delivery"]["p50"]

    @property
    def p99_ms(self) -> float:
        return self.latency["delivery"]["p99"]


@dataclass
class Driven:
    sent_at: dict[int, int]
    ok: int
    failures: dict[str, int]
    post_ms: list[float]


async def drive(
    port: int,
    path: str,
    jwt: str | None,
    conversations: Sequence[str],
    rate: float,
    warmup: float,
    seconds: float,
    tag: str,
    on_measure_start: Callable[[], None],
) -> Driven:
    """POST messages at ``rate``, round robin over the conversations (warm-up
    ones tagged ``warm``); the measured ones' send times and outcomes."""
    headers = {"Authorization": f"Bearer {jwt}"} if jwt else {}
    driven = Driven({}, 0, defaultdict(int), [])
    tasks: set[asyncio.Task[None]] = set()
    async with HttpPool("127.0.0.1", port, 32, headers) as client:

        async def post(number: int, body: dict[str, str]) -> None:
            try:
                status, _ = await client.post(path, msgspec.json.encode(body))
                if status in (201, 202):
                    if number >= 0:
                        driven.ok += 1
                        driven.post_ms.append((time.monotonic_ns() - driven.sent_at[number]) / 1e6)
                else:
                    driven.failures[f"http {status}"] += 1
            except (OSError, asyncio.IncompleteReadError, HttpError) as error:
                driven.failures[type(error).__name__] += 1

        warm = round(warmup * rate)
        total = warm + round(seconds * rate)
        interval = 1 / rate
        t0 = time.monotonic() + 0.1
        for i in range(total):
            if i == warm:
                on_measure_start()
            due = t0 + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic_ns()
            number = i - warm
            if number >= 0:
                content = f"{tag}|{number}|{now}"
                driven.sent_at[number] = now
            else:
                content = f"warm|{i}|{now}"
            body = {"conversation_id": conversations[i % len(conversations)], "content": content}
            task = asyncio.create_task(post(number, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    driven.failures = dict(driven.failures)
    return driven


async def fanout_round(
    server: str,
    round_number: int,
    proc: Proc,
    clients: Sequence[ClientProc],
    conversations: Sequence[str],
    args: argparse.Namespace,
    cpu: CpuMeter,
    tap: Tap,
    workdir: Path,
    pooled: Samples,
) -> FanoutRound:
    tag = f"{server}{round_number}"
    await all_clients(clients, op="tag", tag=tag)
    jwt = token("fanout-driver") if server == "parley" else None
    path = "/api/messages" if server == "parley" else "/broadcast"
    driven = await drive(
        proc.port,
        path,
        jwt,
        conversations,
        args.fanout_rate,
        args.fanout_warmup,
        args.fanout_seconds,
        tag,
        cpu.start,
    )
    sent_at = driven.sent_at
    expected = driven.ok * args.per_conversation
    deadline = time.monotonic() + args.drain
    while True:  # until every delivery arrived, or the drain time is over
        await asyncio.sleep(0.25)
        counts = await all_clients(clients, op="count")
        if sum(a["deliveries"] for a in counts) >= expected or time.monotonic() > deadline:
            break
    usage = cpu.stop()
    paths = [workdir / f"{c.name}-{tag}.json" for c in clients]
    answers = list(
        await asyncio.gather(
            *(c.request(op="collect", path=str(p)) for c, p in zip(clients, paths, strict=True))
        )
    )
    await tap.sync()
    by_message: dict[int, list[int]] = defaultdict(list)  # latencies in µs
    for path_ in paths:
        for number, lats in json.loads(path_.read_text()).items():
            by_message[int(number)].extend(lats)
        path_.unlink()
    samples = Samples()
    last_delivery = 0
    for number, lats in by_message.items():
        first = min(lats)
        samples.add("delivery", [lat / 1000 for lat in lats])
        samples.add("spread", [(lat - first) / 1000 for lat in lats])
        content = f"{tag}|{number}|{sent_at[number]}"
        split, at_nats = tap.split(content, sent_at[number]), tap.arrived(content)
        if split is not None and at_nats is not None:
            to_nats = (at_nats - sent_at[number]) / 1e6
            samples.add("to_log", [split[0]])
            samples.add("log_to_nats", [split[1]])
            samples.add("nats_to_socket", [lat / 1000 - to_nats for lat in lats])
        last_delivery = max(last_delivery, sent_at[number] + max(lats) * 1000)
    samples.add("post", driven.post_ms)
    span = (last_delivery - min(sent_at.values())) / 1e9 if last_delivery else float("nan")
    deliveries = len(samples.named["delivery"])
    close_codes: dict[str, int] = defaultdict(int)
    for answer in answers:
        for code, count in answer["close_codes"].items():
            close_codes[code] += count
    if driven.failures:
        log(f"(b) {server} round {round_number}: POST failures {driven.failures}")
    result = FanoutRound(
        server=server,
        round=round_number,
        messages=len(sent_at),
        posted_ok=driven.ok,
        deliveries=deliveries,
        expected=expected,
        seconds=round(span, 3),
        deliveries_per_s=deliveries / span if span else float("nan"),
        latency=samples.quantiles(),
        cpu=usage,
        close_codes=dict(close_codes),
    )
    for name, values in samples.named.items():
        pooled.add(name, values)
    q = result.latency
    log(
        f"(b) {server} round {round_number}: {deliveries}/{expected} deliveries, "
        f"{result.deliveries_per_s:,.0f}/s, p50 {q['delivery']['p50']:.1f} ms, "
        f"p99 {q['delivery']['p99']:.1f} ms, spread p99 {q['spread']['p99']:.1f} ms, "
        + (
            f"to log p99 {q['to_log']['p99']:.1f} ms, log->NATS p99 "
            f"{q['log_to_nats']['p99']:.1f} ms, NATS->socket p99 "
            f"{q['nats_to_socket']['p99']:.1f} ms, "
            if "to_log" in q
            else ""
        )
        + f"cpu {usage}"
    )
    return result


async def part_fanout(
    servers: dict[str, Proc],
    clients: Sequence[ClientProc],
    conversations: Sequence[str],
    args: argparse.Namespace,
    cpu: CpuMeter,
    tap: Tap,
    workdir: Path,
) -> list[FanoutResult]:
    share = args.per_conversation // len(clients)
    connected: dict[str, tuple[int, int, float]] = {}
    for name, proc in servers.items():
        before = await settled_rss(proc.pid, 0.5)
        requests = []
        for k, client in enumerate(clients):
            urls = [
                ws_url(proc.port, c, token(f"fan-{k}-{j}") if name == "parley" else None)
                for c in conversations
                for j in range(share)
            ]
            requests.append(
                client.request(
                    op="connect", name=name, urls=urls, compression=_compression(args.compression)
                )
            )
        answers = await asyncio.gather(*requests)
        failed = sum(a["failed"] for a in answers)
        if failed:
            raise RuntimeError(f"(b) {failed} sockets to {name} failed: {answers}")
        seconds = max(a["seconds"] for a in answers)
        after = await settled_rss(proc.pid, 0.5)
        connected[name] = (before, after, seconds)
        log(
            f"(b) {sum(a['connected'] for a in answers)} sockets on {name} in {seconds:.1f} s "
            f"(RSS +{(after - before) / 1024 / 1024:.1f} MiB)"
        )
    await asyncio.sleep(2)  # let the connection storm settle
    rounds: list[FanoutRound] = []
    pooled = {name: Samples() for name in servers}
    for r in range(args.rounds):
        for name in ("bare", "parley"):
            rounds.append(
                await fanout_round(
                    name,
                    r,
                    servers[name],
                    clients,
                    conversations,
                    args,
                    cpu,
                    tap,
                    workdir,
                    pooled[name],
                )
            )
    results = []
    for name in ("bare", "parley"):
        mine = [r for r in rounds if r.server == name]
        before, after, seconds = connected[name]
        results.append(
            FanoutResult(
                server=name,
                rounds=mine,
                deliveries_per_s=sum(r.deliveries for r in mine) / sum(r.seconds for r in mine),
                delivered_fraction=sum(r.deliveries for r in mine)
                / max(1, sum(r.expected for r in mine)),
                latency=pooled[name].quantiles(),
                rss_before=before,
                rss_connected=after,
                connect_seconds=seconds,
            )
        )
    for name in servers:
        await all_clients(clients, op="close", name=name)
    return results


# -- the run ----------------------------------------------------------------------------


@dataclass
class Report:
    date: str
    command: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    memory: list[MemoryResult] = field(default_factory=list)
    e2e: E2EResult | None = None
    fanout: list[FanoutResult] = field(default_factory=list)
    seconds: float = 0.0

    def targets(self) -> list[tuple[str, str, bool]]:
        out = []
        if self.e2e is not None:
            out.append(
                (
                    f"(a) e2e p99 < {TARGET_E2E_P99_MS:g} ms at {self.e2e.rate:g} msg/s",
                    f"{self.e2e.p99_ms:.1f} ms",
                    self.e2e.p99_ms < TARGET_E2E_P99_MS and self.e2e.lost == 0,
                )
            )
        fan = {f.server: f for f in self.fanout}
        if "bare" in fan and "parley" in fan:
            bare, parley = fan["bare"], fan["parley"]
            ratio = parley.deliveries_per_s / bare.deliveries_per_s
            out.append(
                (
                    f"(b) deliveries/s >= {TARGET_RATE_RATIO:.0%} of bare",
                    f"{ratio:.0%} ({parley.deliveries_per_s:,.0f} vs {bare.deliveries_per_s:,.0f})",
                    ratio >= TARGET_RATE_RATIO,
                )
            )
            factor = parley.p99_ms / bare.p99_ms
            pairs = [
                p.latency["delivery"]["p99"] / b.latency["delivery"]["p99"]
                for b, p in zip(bare.rounds, parley.rounds, strict=False)
            ]
            out.append(
                (
                    f"(b) p99 < {TARGET_P99_FACTOR:g}x bare p99",
                    f"{factor:.2f}x ({parley.p99_ms:.1f} vs {bare.p99_ms:.1f} ms, all rounds "
                    f"pooled); round by round {', '.join(f'{x:.2f}x' for x in pairs)}",
                    factor < TARGET_P99_FACTOR,
                )
            )
        mine = [m for m in self.memory if m.server == "parley"]
        for m in mine:
            out.append(
                (
                    f"(c) < {TARGET_IDLE_KIB:g} KiB per idle socket ({m.compression})",
                    f"{m.kib_per_socket:.1f} KiB",
                    m.kib_per_socket < TARGET_IDLE_KIB,
                )
            )
        return out


async def run(args: argparse.Namespace, argv: Sequence[str]) -> Report:
    started = time.monotonic()
    nofile = raise_open_file_limit()
    report = Report(
        date=datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        command=shlex.join([".venv/bin/python", "-m", "bench.ws", *argv]),
        machine={
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "open_files": nofile,
            "git": git_revision(),
            "versions": {
                p: version(p) for p in ("litestar", "uvicorn", "websockets", "uvloop", "msgspec")
            },
        },
        settings={
            k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items() if k != "json"
        },
    )
    prefix = f"wsbench_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    log(f"logs in {workdir}; NATS prefix {prefix}")
    procs: list[Proc] = []
    clients: list[ClientProc] = []
    tap = Tap()
    async with (
        throwaway_database(args.database_url, "bench_ws") as (url, _),
        own_stream(args.nats_url, prefix),
    ):
        env = {
            **os.environ,
            "PARLEY_DATABASE_URL": url,
            "PARLEY_NATS_URL": args.nats_url,
            "PARLEY_NATS_PREFIX": prefix,
            "PARLEY_JWT_SECRET": JWT_SECRET,
            "PARLEY_WS_HEARTBEAT_SECONDS": "600",
            # Thousands of sockets from one address, some under one user.
            "PARLEY_WS_MAX_SOCKETS_PER_USER": "1000000",
            "PARLEY_WS_CONNECTS_PER_MINUTE": "1000000",
        }
        migrate = await asyncio.create_subprocess_exec(
            str(VENV_BIN / "parley"),
            "migrate",
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await migrate.communicate()
        if migrate.returncode != 0:
            raise RuntimeError(f"parley migrate failed:\n{output.decode()}")

        async def start_servers(label: str) -> dict[str, Proc]:
            port, bare_port = free_port(), free_port()
            serve = start(
                f"serve-{label}",
                [str(VENV_BIN / "parley"), "serve", "--log-level", "warning"],
                {**env, "PARLEY_HTTP_PORT": str(port)},
                workdir,
                port,
            )
            bare = start(
                f"bare-{label}",
                [sys.executable, "-m", "bench.ws_bare", "--port", str(bare_port)],
                env,
                workdir,
                bare_port,
            )
            servers = {"parley": serve, "bare": bare}
            try:
                await asyncio.gather(wait_live(serve), wait_live(bare))
            except BaseException:
                for proc in servers.values():
                    stop(proc)
                raise
            return servers

        try:
            servers = await start_servers("main")
            serve, bare = servers["parley"], servers["bare"]
            procs += [serve, bare]
            worker = start("worker", [str(VENV_BIN / "parley"), "worker"], env, workdir)
            procs.append(worker)
            for k in range(args.clients):
                clients.append(await ClientProc.start(f"client{k}", workdir))
            pids = {
                "serve": serve.pid,
                "worker": worker.pid,
                "bare": bare.pid,
                "bench": os.getpid(),
            }
            pids.update({c.name: c.pid for c in clients})
            cpu = CpuMeter(pids, urlsplit(url).path.lstrip("/"))
            await tap.start(args.nats_url, prefix, workdir)
            log("servers up")

            admin = token("bench-admin")
            idle_conversations = -(-args.idle_sockets // args.per_conversation)
            fan_conversations = args.fanout_sockets // args.per_conversation
            ids = await create_conversations(
                serve.base_url, admin, args.e2e_senders + idle_conversations + fan_conversations
            )
            e2e_ids = ids[: args.e2e_senders]
            idle_ids = ids[args.e2e_senders : args.e2e_senders + idle_conversations]
            fan_ids = ids[args.e2e_senders + idle_conversations :]
            log(f"{len(ids)} conversations created")

            if "memory" in args.parts:
                report.memory = await part_memory(
                    clients[0], start_servers, idle_ids, args.idle_sockets, args.per_conversation
                )
            if "e2e" in args.parts:
                gc.collect()
                report.e2e = await part_e2e(serve, e2e_ids, args, cpu, tap)
                e = report.e2e
                log(
                    f"(a) {e.received}/{e.sent} received, p50 {e.p50_ms:.1f} ms, "
                    f"p99 {e.p99_ms:.1f} ms, ack p99 {e.ack_p99_ms:.1f} ms, cpu {e.cpu}"
                )
            if "fanout" in args.parts:
                report.fanout = await part_fanout(
                    servers, clients, fan_ids, args, cpu, tap, workdir
                )
            for proc in procs:
                if proc.process.poll() is not None:
                    raise RuntimeError(f"{proc.name} died during the run:\n{proc.tail()}")
        finally:
            await tap.stop()
            for client in clients:
                await client.stop()
            for proc in reversed(procs):
                stop(proc)
    report.seconds = round(time.monotonic() - started, 1)
    return report


# -- output -------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    return out


def _cpu(usage: dict[str, float], names: Sequence[str]) -> str:
    return " ".join(f"{n} {usage.get(n, float('nan')):.0f}%" for n in names if n in usage)


def render(report: Report) -> str:
    lines = [
        "WebSocket edge benchmark (bench/ws.py)",
        f"date:    {report.date}",
        f"command: {report.command}",
        f"code:    {report.machine['git']}",
        f"machine: {report.machine['cpus']} CPUs, Python {report.machine['python']}, "
        f"load at start {report.machine['loadavg_at_start']}, "
        + ", ".join(f"{k} {v}" for k, v in report.machine["versions"].items()),
        f"client:  websockets asyncio client on uvloop, Python, on the same machine; "
        f"compression offered: {report.settings['compression']}",
        "",
    ]
    if report.e2e is not None:
        e = report.e2e
        via = "SEND_MESSAGE frame" if e.send_via == "ws" else "HTTP POST /api/messages"
        lines += [
            f"(a) end-to-end: {via} -> MESSAGE_CREATED at the conversation's subscriber "
            f"socket; {e.rate:g} msg/s for {e.seconds:g} s, {e.senders} conversations",
            *_table(
                [
                    "sent",
                    "received",
                    "p50 ms",
                    "p90 ms",
                    "p99 ms",
                    "max ms",
                    "ACK p50/p99 ms",
                    "CPU",
                ],
                [
                    [
                        str(e.sent),
                        str(e.received),
                        f"{e.p50_ms:.1f}",
                        f"{e.p90_ms:.1f}",
                        f"{e.p99_ms:.1f}",
                        f"{e.max_ms:.1f}",
                        f"{e.ack_p50_ms:.1f} / {e.ack_p99_ms:.1f}",
                        _cpu(e.cpu, ["serve", "worker", "pg", "bench", "rest", "machine"]),
                    ]
                ],
            ),
        ]
        if e.errors:
            lines.append(f"errors: {e.errors}")
        lines.append(
            f"split p50/p99 (NATS tap process): send -> INSERT "
            f"{e.to_log_p50_ms:.1f} / {e.to_log_p99_ms:.1f} ms; INSERT -> on NATS "
            f"{e.log_to_nats_p50_ms:.1f} / {e.log_to_nats_p99_ms:.1f} ms; NATS -> socket "
            f"{e.nats_to_socket_p50_ms:.1f} / {e.nats_to_socket_p99_ms:.1f} ms; "
            f"generator lateness p99 {e.send_lag_p99_ms:.1f} ms"
        )
        lines.append(
            "p99 of each 5 s of sends: " + ", ".join(f"{x:.1f}" for x in e.window_p99_ms) + " ms"
        )
        lines.append("")
    if report.fanout:
        s = report.settings
        lines.append(
            f"(b) fan-out: {s['fanout_sockets']} sockets, {s['per_conversation']} per "
            f"conversation, {s['fanout_rate']:g} msg/s in all "
            f"({s['fanout_rate'] * s['per_conversation']:,.0f} deliveries/s offered), "
            f"{s['rounds']} x {s['fanout_seconds']:g} s per server, "
            f"{s['clients']} client processes; "
            "latency from the POST's send time, spread from the message's first delivery"
        )
        rows = []

        def pq(q: dict[str, dict[str, float]], name: str) -> str:
            if name not in q:
                return "-"
            return f"{q[name]['p50']:.1f} / {q[name]['p99']:.1f}"

        for f in report.fanout:
            for r in f.rounds:
                rows.append(
                    [
                        f"{r.server} #{r.round}",
                        f"{r.deliveries}/{r.expected}",
                        f"{r.deliveries_per_s:,.0f}",
                        pq(r.latency, "delivery"),
                        pq(r.latency, "spread"),
                        pq(r.latency, "post"),
                        pq(r.latency, "to_log"),
                        pq(r.latency, "log_to_nats"),
                        pq(r.latency, "nats_to_socket"),
                        _cpu(
                            r.cpu,
                            [
                                "serve",
                                "worker",
                                "pg",
                                "bare",
                                "client0",
                                "client1",
                                "rest",
                                "machine",
                            ],
                        ),
                    ]
                )
            rows.append(
                [
                    f"{f.server} all",
                    f"{f.delivered_fraction:.2%}",
                    f"{f.deliveries_per_s:,.0f}",
                    pq(f.latency, "delivery"),
                    pq(f.latency, "spread"),
                    pq(f.latency, "post"),
                    pq(f.latency, "to_log"),
                    pq(f.latency, "log_to_nats"),
                    pq(f.latency, "nats_to_socket"),
                    f"max {f.latency['delivery']['max']:.0f} ms; connect {f.connect_seconds:.1f} s",
                ]
            )
        closes = [
            f"{r.server} #{r.round}: {r.close_codes}"
            for f in report.fanout
            for r in f.rounds
            if r.close_codes
        ]
        lines += _table(
            [
                "server",
                "delivered",
                "deliv/s",
                "latency p50/p99",
                "spread",
                "POST->response",
                "POST->INSERT",
                "INSERT->NATS",
                "NATS->socket",
                "CPU (% of one core)",
            ],
            rows,
        )
        if closes:
            lines.append("sockets the servers closed: " + "; ".join(closes))
        lines.append("")
    if report.memory:
        lines.append("(c) memory per idle socket: server RSS before/after N sockets got READY")
        lines += _table(
            [
                "server",
                "compression",
                "sockets",
                "RSS before",
                "RSS after",
                "per socket",
                "after close",
            ],
            [
                [
                    m.server,
                    m.compression,
                    str(m.connected),
                    f"{m.rss_before / 2**20:.1f} MiB",
                    f"{m.rss_after / 2**20:.1f} MiB",
                    f"{m.kib_per_socket:.1f} KiB",
                    f"{m.rss_after_close / 2**20:.1f} MiB",
                ]
                for m in report.memory
            ],
        )
        for f in report.fanout:
            per = (f.rss_connected - f.rss_before) / 1024 / report.settings["fanout_sockets"]
            lines.append(
                f"  cross-check, (b)'s {report.settings['fanout_sockets']} sockets on {f.server} "
                f"({report.settings['compression']}): {per:.1f} KiB each (a lower bound: "
                "that process reuses memory freed by earlier parts)"
            )
        lines.append("")
    lines.append("targets:")
    for what, figure, met in report.targets():
        lines.append(f"  {'MET ' if met else 'MISSED'}  {what}: {figure}")
    lines.append(f"total runtime {report.seconds:.0f} s")
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ws", description=__doc__.split("\n")[0])
    p.add_argument(
        "--database-url",
        default=os.environ.get(
            "PARLEY_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="an admin URL: a throwaway database is created there and dropped",
    )
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument(
        "--parts", default="memory,e2e,fanout", type=lambda s: set(s.split(",")), help="which parts"
    )
    p.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="what the clients offer in (a) and (b)",
    )
    p.add_argument("--e2e-rate", type=float, default=200.0)
    p.add_argument("--e2e-seconds", type=float, default=15.0)
    p.add_argument("--e2e-warmup", type=float, default=3.0)
    p.add_argument("--e2e-senders", type=int, default=200)
    p.add_argument("--send-via", choices=["ws", "http"], default="ws")
    p.add_argument("--fanout-sockets", type=int, default=2000)
    p.add_argument("--per-conversation", type=int, default=100)
    p.add_argument("--fanout-rate", type=float, default=30.0, help="messages/s in all")
    p.add_argument("--fanout-seconds", type=float, default=10.0)
    p.add_argument("--fanout-warmup", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--drain", type=float, default=5.0, help="max seconds to wait for stragglers")
    p.add_argument("--clients", type=int, default=2, help="client processes for (b)")
    p.add_argument("--idle-sockets", type=int, default=1000)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    report = uvloop.run(run(args, argv))
    if args.json:
        out = asdict(report)
        out["targets"] = [
            {"target": what, "figure": figure, "met": met} for what, figure, met in report.targets()
        ]
        print(json.dumps(out, indent=2, default=str))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
