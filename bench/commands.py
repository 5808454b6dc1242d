"""Commands over HTTP: Parley's ``POST /api/messages`` (SendMessage) against a
bare Litestar endpoint that only validates the same body, and the cost of a
command on a conversation of 100 messages against one of 100,000.

Run from the repository root::

    .venv/bin/python -m bench.commands [--seconds 10] [--json]

What it does, in one run:

1. Creates a throwaway database on the ``--database-url`` server, migrates it
   and drops it at the end (also on an error or Ctrl-C).
2. Seeds, straight into the event store (``PostgresEventStore.append``,
   2,000 events per append), the conversations of the length test:

   - *long*: ConversationStarted, then 100,000 MessageSent (seq 1..100,000,
     senders alternating client/admin, ~120 characters each) and, after every
     10th message, a MessagesRead by the staff side and one by the client
     side up to that message, so each side has at most a few unread messages
     (120,001 events);
   - *short*: the same pattern with 100 messages (121 events);
   - *worst*: 100,000 client messages and no MessagesRead at all, so all
     100,000 are unread for staff (100,001 events), and *worst-short*, the
     same with 100 messages, as its baseline.

3. Starts two server processes with the same uvicorn settings (one process,
   uvloop, httptools, no access log, ``bench/commands_server.py``): the real
   Parley app (``parley.app.create_app`` on PostgreSQL and NATS) and the bare
   app (``bench/bare_app.py``); creates 200 conversations through Parley's
   ``POST /api/conversations``.
4. Throughput: ``wrk -t2 -c64 -d<seconds>s`` with a Lua script that POSTs a
   SendMessage body for one of the 200 conversations at random with an admin
   bearer token (the bare app gets the same requests), each server loaded on
   its own, alternating bare, Parley, bare, Parley, … (3 ``--rounds``) after a
   short warm-up of each; the median of the rounds is reported. Besides
   wrk's figures: the server process's CPU (share of one core, and CPU time
   per answered request, which noise disturbs less than the rate), the whole
   machine's CPU, and for Parley the number of PostgreSQL transactions its
   appends went out in (distinct ``xmin`` of the rows: group commits).
   Afterwards the database is checked: every conversation's seqs are 1..n.
   No relay or projection worker runs: this measures the command side only.
5. Length: one httpx client, keep-alive, sends messages one at a time,
   alternating between a long and a short conversation: the first request to
   each is *cold* (the server has not seen the conversation since it
   started, so it folds the whole stream), then ``--requests`` warm ones to
   each. Done for long/short with an admin token, and for worst/worst-short
   with the client's token (each message adds to the 100,000 unread) and
   then with an admin token (``--worst-messages 0`` skips the worst case).

wrk's latencies are from its own histogram (``done()`` in the Lua script);
the length test's from ``time.perf_counter`` around each request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import uvloop

from bench.commands_server import UVICORN_SETTINGS
from bench.databases import log, throwaway_database
from bench.tables import markdown_table
from commands.auth import issue_token
from commands.model import stream_id_for
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    MessagesRead,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent
from events.postgres.migrate import EVENT_STORE_MIGRATIONS
from events.postgres.store import PostgresEventStore, create_pool

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
ROOT = Path(__file__).resolve().parent.parent

# ~120 characters, JSON-safe as it is (the Lua script pastes it into bodies).
CONTENT = (
    "Hello, my parcel (order 48213) still shows label created after five days. "
    "Could you check with the courier, please? Thanks!"
)
STAFF_ID = "alice"
SEED_BATCH = 2000
TARGET_SHARE = 0.30
TARGET_P99_MS = 100.0
TARGET_LENGTH_RATIO = 1.5


# -- database ------------------------------------------------------------------------


def _migration_folders() -> list[Path]:
    """Every package's migrations, as ``parley migrate`` applies them."""
    try:
        from parley.services import MIGRATION_FOLDERS
    except ImportError:
        return [EVENT_STORE_MIGRATIONS]
    return list(MIGRATION_FOLDERS)


# -- seeding -------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A conversation written straight to the store."""

    label: str
    conversation_id: UUID
    client_id: str
    messages: int
    reads_every: int | None
    events: int


def conversation_events(
    conversation_id: UUID, client_id: str, messages: int, reads_every: int | None
) -> list[NewEvent]:
    """ConversationStarted, then ``messages`` messages. With ``reads_every``,
    senders alternate client (odd seqs) / admin (even seqs) and after every
    ``reads_every``-th message both sides mark everything read; without it,
    every message is the client's and nobody reads."""
    client_meta = Metadata(actor_id=client_id, actor_role="client")
    staff_meta = Metadata(actor_id=STAFF_ID, actor_role="admin")
    events = [
        NewEvent(
            event_id=uuid4(),
            data=ConversationStarted(
                conversation_id=conversation_id,
                client=Client(id=client_id, name="Bench Client"),
                channel=Channel.WEB,
                priority=Priority.MEDIUM,
                status=Status.ACTIVE,
            ),
            metadata=staff_meta,
        )
    ]
    for seq in range(1, messages + 1):
        by_client = reads_every is None or seq % 2 == 1
        events.append(
            NewEvent(
                event_id=uuid4(),
                data=MessageSent(
                    conversation_id=conversation_id,
                    message_id=uuid4(),
                    seq=seq,
                    sender=Side.CLIENT if by_client else Side.ADMIN,
                    sender_id=client_id if by_client else STAFF_ID,
                    content=CONTENT,
                ),
                metadata=client_meta if by_client else staff_meta,
            )
        )
        if reads_every is not None and seq % reads_every == 0:
            for reader, reader_id, meta in (
                (Side.ADMIN, STAFF_ID, staff_meta),
                (Side.CLIENT, client_id, client_meta),
            ):
                events.append(
                    NewEvent(
                        event_id=uuid4(),
                        data=MessagesRead(
                            conversation_id=conversation_id,
                            reader=reader,
                            reader_id=reader_id,
                            up_to_seq=seq,
                        ),
                        metadata=meta,
                    )
                )
    return events


async def seed(
    store: PostgresEventStore, label: str, client_id: str, messages: int, reads_every: int | None
) -> Seeded:
    conversation_id = uuid4()
    events = conversation_events(conversation_id, client_id, messages, reads_every)
    stream_id = stream_id_for(conversation_id)
    version = 0
    for start in range(0, len(events), SEED_BATCH):
        batch = events[start : start + SEED_BATCH]
        result = await store.append(stream_id, batch, version)
        version = result.last_stream_position
    return Seeded(label, conversation_id, client_id, messages, reads_every, len(events))


async def seed_all(
    url: str, long_messages: int, short_messages: int, worst_messages: int
) -> dict[str, Seeded]:
    pool = await create_pool(url, min_size=2, max_size=4)
    try:
        store = PostgresEventStore(pool)
        try:
            started = time.perf_counter()
            plans: list[tuple[str, str, int, int | None]] = [
                ("long", "c-long", long_messages, 10),
                ("short", "c-short", short_messages, 10),
            ]
            if worst_messages > 0:
                plans += [
                    ("worst", "c-worst", worst_messages, None),
                    ("worst-short", "c-worst", short_messages, None),
                ]
            seeded = await asyncio.gather(*(seed(store, *plan) for plan in plans))
            total = sum(s.events for s in seeded)
            log(f"seeded {total:,} events in {time.perf_counter() - started:.1f} s")
        finally:
            await store.close()
        # As autovacuum would have done by the time a conversation is this
        # long (and it may be off on the server): statistics, visibility map,
        # hint bits; so neither the measurements nor the cold reads pay for it.
        await pool.execute("VACUUM (ANALYZE) events")
    finally:
        await pool.close()
    return {s.label: s for s in seeded}


# -- servers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(
    name: str, module: str, args: Sequence[str], workdir: Path, env: dict[str, str]
) -> ServerProcess:
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
        )
    return ServerProcess(name, port, process, log_path)


def stop_server(server: ServerProcess) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


async def wait_until_ready(
    server: ServerProcess, method: str, path: str, body: Any, ok: int, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"the {server.name} server exited ({server.process.returncode}):\n"
                    + server.log_tail()
                )
            try:
                response = await client.request(method, path, json=body)
                if response.status_code == ok:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {server.name} server did not answer within {timeout:g} s")
            await asyncio.sleep(0.1)


# -- CPU accounting ----------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_and_total() -> tuple[float, float]:
    """Busy and total CPU seconds of the machine so far (all cores)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return float("nan"), float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / _TICK, total / _TICK


# -- throughput with wrk -----------------------------------------------------------------


LUA_TEMPLATE = """
-- Generated by bench/commands.py: POST /api/messages for a random conversation.
local ids = {%(ids)s}
local requests = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
  for i, id in ipairs(ids) do
    local body = '{"conversation_id":"' .. id .. '","content":"%(content)s"}'
    requests[i] = wrk.format(nil, nil, nil, body)
  end
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%%d duration_us=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d"
    .. " p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def write_lua(path: Path, conversation_ids: Sequence[UUID], token: str) -> None:
    ids = ", ".join(f'"{c}"' for c in conversation_ids)
    path.write_text(LUA_TEMPLATE % {"ids": ids, "token": token, "content": CONTENT})


@dataclass
class WrkRun:
    endpoint: str
    round: int
    requests_per_s: float
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    server_cpu_percent: float
    server_cpu_us_per_request: float
    machine_cpu_percent: float
    stored_events: int | None = None
    """Events Parley stored during the run (None for the bare endpoint)."""
    transactions: int | None = None
    """PostgreSQL transactions they were stored in (group commits)."""


def parse_wrk(output: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("BENCH "):
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                figures[key] = float(value)
        elif line.strip().startswith("Requests/sec:"):
            figures["requests_per_s"] = float(line.split(":", 1)[1])
    if "requests" not in figures or "requests_per_s" not in figures:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return figures


async def run_wrk(
    server: ServerProcess,
    lua: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    round_: int,
) -> WrkRun:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        f"{server.base_url}/api/messages",
    ]
    cpu_before = process_cpu_seconds(server.process.pid)
    busy_before, total_before = machine_busy_and_total()
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    cpu = process_cpu_seconds(server.process.pid) - cpu_before
    busy_after, total_after = machine_busy_and_total()
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
    f = parse_wrk(text)
    duration = f["duration_us"] / 1e6
    return WrkRun(
        endpoint=server.name,
        round=round_,
        requests_per_s=f["requests_per_s"],
        requests=int(f["requests"]),
        seconds=round(duration, 2),
        p50_ms=f["p50_us"] / 1000,
        p90_ms=f["p90_us"] / 1000,
        p99_ms=f["p99_us"] / 1000,
        max_ms=f["max_us"] / 1000,
        non_2xx=int(f["status"]),
        socket_errors=int(f["connect"] + f["read"] + f["write"] + f["timeout"]),
        server_cpu_percent=100 * cpu / duration,
        server_cpu_us_per_request=1e6 * cpu / max(int(f["requests"]), 1),
        machine_cpu_percent=100
        * (busy_after - busy_before)
        / max(total_after - total_before, 1e-9),
    )


async def create_conversations(base_url: str, token: str, count: int) -> list[UUID]:
    headers = {"Authorization": f"Bearer {token}"}
    ids: list[UUID] = []
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def one(i: int) -> None:
            response = await client.post(
                "/api/conversations",
                json={"client": {"id": f"c-{i}", "name": f"Client {i}"}, "channel": "web"},
            )
            if response.status_code != 201:
                raise RuntimeError(
                    f"POST /api/conversations: {response.status_code} {response.text}"
                )
            ids.append(UUID(response.json()["conversation_id"]))

        await asyncio.gather(*(one(i) for i in range(count)))
    return ids


async def log_head(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM events"))
    finally:
        await conn.close()


async def commits_since(url: str, head: int) -> tuple[int, int]:
    """Events stored after ``head`` and the number of transactions that
    stored them (each row's ``xmin`` is its inserting transaction)."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS events, count(DISTINCT xmin::text) AS transactions"
            " FROM events WHERE global_position > $1",
            head,
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row["events"]), int(row["transactions"])


async def check_stored(url: str, conversation_ids: Sequence[UUID]) -> dict[str, int]:
    """Messages stored in the load-tested conversations, and how many
    conversations have seqs other than exactly 1..n."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS conversations, coalesce(sum(n), 0) AS messages,
                   count(*) FILTER (WHERE n <> max_seq OR n <> distinct_seqs) AS broken
            FROM (SELECT stream_id, count(*) AS n,
                         count(DISTINCT (data->>'seq')::int) AS distinct_seqs,
                         max((data->>'seq')::int) AS max_seq
                  FROM events
                  WHERE type = 'MessageSent' AND stream_id = ANY($1::text[])
                  GROUP BY stream_id) AS s
            """,
            [stream_id_for(c) for c in conversation_ids],
        )
    finally:
        await conn.close()
    assert row is not None
    return {k: int(row[k]) for k in ("conversations", "messages", "broken")}


# -- length independence -------------------------------------------------------------


@dataclass
class LengthRun:
    name: str
    sender: str
    long_label: str
    short_label: str
    long_events: int
    short_events: int
    first_is_cold: bool
    first_long_ms: float
    first_short_ms: float
    requests_each: int
    long_p50_ms: float
    long_p99_ms: float
    short_p50_ms: float
    short_p99_ms: float
    ratio_p50: float
    non_201: int


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def sequential_sends(
    base_url: str,
    token: str,
    name: str,
    sender: str,
    long: Seeded,
    short: Seeded,
    requests_each: int,
    first_is_cold: bool,
) -> LengthRun:
    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[UUID, list[float]] = {long.conversation_id: [], short.conversation_id: []}
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as client:
        await client.get("/health/live")  # open the connection first

        async def send(conversation_id: UUID) -> float:
            body = {"conversation_id": str(conversation_id), "content": CONTENT}
            started = time.perf_counter()
            response = await client.post("/api/messages", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")
            return elapsed

        first_long = await send(long.conversation_id)
        first_short = await send(short.conversation_id)
        for _ in range(requests_each):
            for conversation_id in (long.conversation_id, short.conversation_id):
                timings[conversation_id].append(await send(conversation_id))
    if failures:
        log(f"  {len(failures)} requests failed, e.g. {failures[0]}")
    long_p50 = percentile(timings[long.conversation_id], 50)
    short_p50 = percentile(timings[short.conversation_id], 50)
    return LengthRun(
        name=name,
        sender=sender,
        long_label=_describe(long),
        short_label=_describe(short),
        long_events=long.events,
        short_events=short.events,
        first_is_cold=first_is_cold,
        first_long_ms=first_long,
        first_short_ms=first_short,
        requests_each=requests_each,
        long_p50_ms=long_p50,
        long_p99_ms=percentile(timings[long.conversation_id], 99),
        short_p50_ms=short_p50,
        short_p99_ms=percentile(timings[short.conversation_id], 99),
        ratio_p50=long_p50 / short_p50,
        non_201=len(failures),
    )


def _describe(s: Seeded) -> str:
    if s.reads_every is None:
        return f"{s.messages:,} unread client messages"
    return f"{s.messages:,} messages, read every {s.reads_every}"


# -- the run ---------------------------------------------------------------------------


@dataclass
class Report:
    date: str
    command: str
    python: str
    postgresql: dict[str, str]
    versions: dict[str, str]
    cpus: int | None
    load_average: list[float]
    uvicorn: dict[str, Any]
    settings: dict[str, Any]
    seeded_seconds: float = 0.0
    throughput: list[WrkRun] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)
    length: list[LengthRun] = field(default_factory=list)

    def runs(self, endpoint: str) -> list[WrkRun]:
        return [r for r in self.throughput if r.endpoint == endpoint]

    def median(self, endpoint: str, attribute: str) -> float:
        values = [getattr(r, attribute) for r in self.runs(endpoint)]
        return statistics.median(values) if values else float("nan")

    @property
    def share(self) -> float:
        return self.median("parley", "requests_per_s") / self.median("bare", "requests_per_s")

    def targets(self) -> list[tuple[str, str, bool]]:
        checks: list[tuple[str, str, bool]] = []
        if self.throughput:
            checks.append(
                (
                    f"SendMessage >= {TARGET_SHARE:.0%} of the bare endpoint's rate",
                    f"{self.share:.0%} ({self.median('parley', 'requests_per_s'):,.0f} vs "
                    f"{self.median('bare', 'requests_per_s'):,.0f} req/s)",
                    self.share >= TARGET_SHARE,
                )
            )
            p99 = self.median("parley", "p99_ms")
            checks.append(
                (
                    f"SendMessage p99 < {TARGET_P99_MS:g} ms at 64 connections",
                    f"{p99:.1f} ms",
                    p99 < TARGET_P99_MS,
                )
            )
            non_2xx = sum(r.non_2xx + r.socket_errors for r in self.runs("parley"))
            checks.append(
                ("SendMessage: no non-2xx answers or socket errors", str(non_2xx), non_2xx == 0)
            )
        for run in self.length:
            if run.name == "realistic":
                checks.append(
                    (
                        f"p50 latency, {run.long_label} / {run.short_label}"
                        f" < {TARGET_LENGTH_RATIO:g}",
                        f"{run.ratio_p50:.2f}",
                        run.ratio_p50 < TARGET_LENGTH_RATIO,
                    )
                )
        return checks


async def run(args: argparse.Namespace) -> Report:
    report = Report(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        command=shlex.join(sys.orig_argv),
        python=platform.python_version(),
        postgresql={},
        versions={
            p: version(p)
            for p in ("litestar", "uvicorn", "msgspec", "asyncpg", "httptools", "uvloop")
        },
        cpus=os.cpu_count(),
        load_average=[round(x, 2) for x in os.getloadavg()],
        uvicorn=dict(UVICORN_SETTINGS),
        settings={
            k: getattr(args, k)
            for k in (
                "seconds",
                "warmup",
                "rounds",
                "connections",
                "threads",
                "conversations",
                "long_messages",
                "short_messages",
                "worst_messages",
                "requests",
            )
        },
    )
    # SIGTERM stops the run like Ctrl-C: servers stopped, database dropped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    admin_token = issue_token(secret, sub=STAFF_ID, role="admin", ttl=timedelta(hours=2), now=now)
    async with throwaway_database(args.database_url, "bench_commands", _migration_folders()) as (
        url,
        facts,
    ):
        report.postgresql = facts
        started = time.perf_counter()
        seeded = await seed_all(url, args.long_messages, args.short_messages, args.worst_messages)
        report.seeded_seconds = round(time.perf_counter() - started, 1)

        with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
            workdir = Path(tmp)
            env = {**os.environ, "PARLEY_JWT_SECRET": secret, "PYTHONUNBUFFERED": "1"}
            servers: list[ServerProcess] = []
            try:
                parley = start_server(
                    "parley",
                    args.server_module,
                    ["--database-url", url, "--nats-url", args.nats_url],
                    workdir,
                    env,
                )
                servers.append(parley)
                bare = start_server("bare", "bench.bare_app", [], workdir, env)
                servers.append(bare)
                probe = {"conversation_id": str(uuid4()), "content": CONTENT}
                # Liveness, not readiness: /health/ready also wants the relay and
                # projection workers, which this benchmark does not run.
                await wait_until_ready(parley, "GET", "/health/live", None, 200)
                await wait_until_ready(bare, "POST", "/api/messages", probe, 201)
                log(f"servers up: parley pid {parley.process.pid}, bare pid {bare.process.pid}")

                conversation_ids = await create_conversations(
                    parley.base_url, admin_token, args.conversations
                )
                log(f"created {len(conversation_ids)} conversations through the API")
                lua = workdir / "send_message.lua"
                write_lua(lua, conversation_ids, admin_token)

                if args.seconds > 0:
                    load = {
                        "connections": args.connections,
                        "threads": args.threads,
                    }
                    if args.warmup > 0:
                        for server in (bare, parley):
                            await run_wrk(server, lua, seconds=args.warmup, round_=0, **load)
                    for round_ in range(1, args.rounds + 1):
                        for server in (bare, parley):
                            head = await log_head(url)
                            result = await run_wrk(
                                server, lua, seconds=args.seconds, round_=round_, **load
                            )
                            if server is parley:
                                await asyncio.sleep(0.5)  # the last answered appends
                                result.stored_events, result.transactions = await commits_since(
                                    url, head
                                )
                            report.throughput.append(result)
                            log(
                                f"round {round_} {server.name:>6}: "
                                f"{result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms,"
                                f" p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx},"
                                f" server CPU {result.server_cpu_percent:.0f}%"
                                f" ({result.server_cpu_us_per_request:.0f} µs/request),"
                                f" machine CPU {result.machine_cpu_percent:.0f}%"
                                + (
                                    f", {result.transactions / result.seconds:,.0f} commits/s"
                                    f" of {result.stored_events / result.transactions:.1f}"
                                    " appends"
                                    if result.transactions and result.stored_events
                                    else ""
                                )
                            )
                    report.stored = await check_stored(url, conversation_ids)

                if args.requests > 0:
                    worst_client = issue_token(
                        secret,
                        sub="c-worst",
                        role="client",
                        client_id="c-worst",
                        ttl=timedelta(hours=2),
                        now=now,
                    )
                    plans = [
                        ("realistic", "admin", admin_token, "long", "short", True),
                        ("worst case", "client", worst_client, "worst", "worst-short", True),
                        ("worst case", "admin", admin_token, "worst", "worst-short", False),
                    ]
                    if args.worst_messages <= 0:
                        plans = plans[:1]
                    for name, sender, token, long_label, short_label, cold in plans:
                        length = await sequential_sends(
                            parley.base_url,
                            token,
                            name,
                            sender,
                            seeded[long_label],
                            seeded[short_label],
                            args.requests,
                            cold,
                        )
                        report.length.append(length)
                        log(
                            f"{name}, as {sender}: first {length.first_long_ms:,.1f} /"
                            f" {length.first_short_ms:,.1f} ms, p50 {length.long_p50_ms:.2f} /"
                            f" {length.short_p50_ms:.2f} ms (ratio {length.ratio_p50:.2f})"
                        )
            except BaseException:
                for server in servers:
                    if server.process.poll() is not None and server.process.returncode != 0:
                        log(f"--- {server.name} server log ---\n{server.log_tail()}")
                raise
            finally:
                for server in servers:
                    stop_server(server)
    return report


# -- output ------------------------------------------------------------------------------


def render(report: Report) -> str:
    s = report.settings
    pg = report.postgresql
    v = report.versions
    load = " ".join(f"{x:.2f}" for x in report.load_average)
    lines = [
        "Commands over HTTP: Parley POST /api/messages (SendMessage) vs a bare Litestar endpoint",
        f"date:       {report.date}",
        f"command:    {report.command}",
        f"machine:    {report.cpus} CPUs (load average at start: {load}), Python "
        f"{report.python}; PostgreSQL {pg.get('server_version')} (synchronous_commit="
        f"{pg.get('synchronous_commit')}, fsync={pg.get('fsync')}, "
        f"shared_buffers={pg.get('shared_buffers')})",
        f"servers:    uvicorn {v['uvicorn']}, 1 process, loop=uvloop, http=httptools, no access"
        f" log; Litestar {v['litestar']}, msgspec {v['msgspec']}, asyncpg {v['asyncpg']}",
    ]
    if report.throughput:
        lines += [
            f"load:       wrk -t{s['threads']} -c{s['connections']} -d{s['seconds']:g}s, "
            f"SendMessage bodies ({len(CONTENT)}-char content, admin bearer token) for one of "
            f"{s['conversations']} conversations at random; each server alone, "
            f"{s['rounds']} round(s) of bare then parley after a {s['warmup']:g} s warm-up each; "
            "medians",
            "",
        ]
        rows = []
        for endpoint, label in (
            ("bare", "bare Litestar (validation only)"),
            ("parley", "Parley SendMessage"),
        ):
            runs = report.runs(endpoint)
            rows.append(
                [
                    label,
                    " / ".join(f"{r.requests_per_s:,.0f}" for r in runs),
                    f"{report.median(endpoint, 'requests_per_s'):,.0f}",
                    f"{report.median(endpoint, 'p50_ms'):.1f}",
                    f"{report.median(endpoint, 'p99_ms'):.1f}",
                    str(sum(r.non_2xx for r in runs)),
                    str(sum(r.socket_errors for r in runs)),
                    f"{report.median(endpoint, 'server_cpu_percent'):.0f}%",
                    f"{report.median(endpoint, 'server_cpu_us_per_request'):.0f}",
                    f"{report.median(endpoint, 'machine_cpu_percent'):.0f}%",
                ]
            )
        lines += markdown_table(
            [
                "endpoint",
                "req/s per round",
                "median req/s",
                "p50 ms",
                "p99 ms",
                "non-2xx",
                "socket errors",
                "server CPU",
                "server CPU µs/req",
                "machine CPU",
            ],
            rows,
        )
        lines.append(f"Parley / bare: {report.share:.0%}")
        st = report.stored
        if st:
            lines.append(
                f"stored: {st['messages']:,} messages in {st['conversations']} conversations, "
                + (
                    "seqs 1..n in every one"
                    if st["broken"] == 0
                    else f"{st['broken']} with BROKEN seqs"
                )
            )
        grouped = [r for r in report.runs("parley") if r.transactions]
        if grouped:
            lines.append(
                "Parley's group commits per round: "
                + " / ".join(
                    f"{r.transactions / r.seconds:,.0f}/s of {r.stored_events / r.transactions:.1f}"
                    " appends"
                    for r in grouped
                    if r.transactions and r.stored_events is not None
                )
            )
        lines.append(
            "(server CPU: the server process, 100% = one core, and its CPU time per answered "
            f"request; machine CPU: all {report.cpus} cores, wrk, PostgreSQL and anything else "
            "running included)"
        )
    if report.length:
        lines += [
            "",
            f"Length: one httpx client, sequential, alternating between a long and a short "
            f"conversation, {s['requests']} warm requests each after the first "
            f"(seeded {report.seeded_seconds:g} s)",
            "",
        ]
        rows = []
        for r in report.length:
            first = "cold" if r.first_is_cold else "warm"
            for label, events, first_ms, p50, p99 in (
                (r.short_label, r.short_events, r.first_short_ms, r.short_p50_ms, r.short_p99_ms),
                (r.long_label, r.long_events, r.first_long_ms, r.long_p50_ms, r.long_p99_ms),
            ):
                rows.append(
                    [
                        f"{r.name}, as {r.sender}: {label}",
                        f"{events:,}",
                        f"{first_ms:,.1f} ({first})",
                        f"{p50:.2f}",
                        f"{p99:.2f}",
                        "",
                    ]
                )
            rows[-1][-1] = f"{r.ratio_p50:.2f}"
            if r.non_201:
                rows[-1][0] += f" ({r.non_201} non-201!)"
        lines += markdown_table(
            ["conversation", "events", "first request ms", "p50 ms", "p99 ms", "p50 long/short"],
            rows,
        )
    checks = report.targets()
    if checks:
        lines += ["", "Targets (issue 3):"]
        lines += [f"  {'met   ' if met else 'MISSED'}  {t}: {m}" for t, m, met in checks]
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.commands",
        description="SendMessage over HTTP vs a bare Litestar endpoint; "
        "cost vs conversation length.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PARLEY_DATABASE_URL") or DEFAULT_ADMIN_URL,
        help="a server where this script may create and drop a database "
        "(default: $PARLEY_DATABASE_URL, else %(default)s)",
    )
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("PARLEY_NATS_URL") or DEFAULT_NATS_URL,
        help="NATS with JetStream (default: $PARLEY_NATS_URL, else %(default)s)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk run (0: skip)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured wrk seconds per server"
    )
    parser.add_argument("--rounds", type=int, default=3, help="bare+parley rounds (median)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--long-messages", type=int, default=100_000)
    parser.add_argument("--short-messages", type=int, default=100)
    parser.add_argument(
        "--worst-messages",
        type=int,
        default=100_000,
        help="unread client messages of the worst-case conversation (0: skip the worst case)",
    )
    parser.add_argument(
        "--requests", type=int, default=300, help="warm requests per conversation (0: skip)"
    )
    parser.add_argument(
        "--server-module",
        default="bench.commands_server",
        help="module that serves Parley (same arguments as bench.commands_server), "
        "to measure a variant",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = uvloop.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return 130
    if args.json:
        data = asdict(report)
        data["medians"] = {
            e: {k: report.median(e, k) for k in ("requests_per_s", "p50_ms", "p99_ms")}
            for e in ("bare", "parley")
        }
        data["parley_share_of_bare"] = report.share if report.throughput else None
        data["targets"] = [
            {"target": t, "measured": m, "met": met} for t, m, met in report.targets()
        ]
        print(json.dumps(data, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
