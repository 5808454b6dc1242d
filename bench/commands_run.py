"""One run of bench.commands: seed, start both servers, load them, measure."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from bench.commands_conversations import (
    CONTENT,
    STAFF_ID,
    LengthRun,
    Seeded,
    seed_all,
    sequential_sends,
)
from bench.commands_http import (
    WrkRun,
    check_stored,
    commits_since,
    log_head,
    run_wrk,
    write_lua,
)
from bench.commands_server import UVICORN_SETTINGS
from bench.common import (
    Proc,
    command_line,
    log,
    now_utc,
    python_version,
    start_module,
    stop,
    wait_ready,
)
from bench.databases import create_conversations, throwaway_database
from commands.auth import issue_token
from events.postgres.migrate import EVENT_STORE_MIGRATIONS
from projections import READ_MODEL_MIGRATIONS

TARGET_SHARE = 0.30
TARGET_P99_MS = 100.0
TARGET_LENGTH_RATIO = 1.5
SETTINGS = ["seconds", "warmup", "rounds", "connections", "threads", "conversations"]
SETTINGS += ["long_messages", "short_messages", "worst_messages", "requests"]


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


async def run(args: Any) -> Report:
    report = Report(
        date=now_utc(),
        command=command_line(),
        python=python_version(),
        postgresql={},
        versions={
            p: version(p)
            for p in ("litestar", "uvicorn", "msgspec", "asyncpg", "httptools", "uvloop")
        },
        cpus=os.cpu_count(),
        load_average=[round(x, 2) for x in os.getloadavg()],
        uvicorn=dict(UVICORN_SETTINGS),
        settings={k: getattr(args, k) for k in SETTINGS},
    )
    # SIGTERM stops the run like Ctrl-C: servers stopped, database dropped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    secret = secrets.token_urlsafe(32)
    migrations = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]
    async with throwaway_database(args.database_url, "bench_commands", migrations) as (url, facts):
        report.postgresql = facts
        started = time.perf_counter()
        seeded = await seed_all(url, args.long_messages, args.short_messages, args.worst_messages)
        report.seeded_seconds = round(time.perf_counter() - started, 1)
        with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
            env = {**os.environ, "PARLEY_JWT_SECRET": secret, "PYTHONUNBUFFERED": "1"}
            servers: list[Proc] = []
            try:
                parley_args = ["--database-url", url, "--nats-url", args.nats_url]
                servers.append(
                    start_module("parley", args.server_module, parley_args, Path(tmp), env)
                )
                servers.append(
                    start_module("bare", "bench.commands_server", ["--bare"], Path(tmp), env)
                )
                parley, bare = servers
                probe = {"conversation_id": str(uuid4()), "content": CONTENT}
                # Liveness, not readiness: /health/ready also wants the relay and
                # projection workers, which this benchmark does not run.
                await wait_ready(parley)
                await wait_ready(bare, "/api/messages", "POST", probe, 201)
                log(f"servers up: parley pid {parley.pid}, bare pid {bare.pid}")
                if args.seconds > 0:
                    await measure_load(args, url, secret, bare, parley, Path(tmp), report)
                if args.requests > 0:
                    await measure_length(args, secret, parley.base_url, seeded, report)
            except BaseException:
                for server in servers:
                    if server.process.poll() is not None and server.process.returncode != 0:
                        log(f"--- {server.name} server log ---\n{server.tail()}")
                raise
            finally:
                for server in servers:
                    stop(server)
    return report


def _token(secret: str, sub: str, role: str, **claims: str) -> str:
    now = datetime.now(UTC)
    return issue_token(secret, sub=sub, role=role, ttl=timedelta(hours=2), now=now, **claims)


async def measure_load(
    args: Any, url: str, secret: str, bare: Proc, parley: Proc, workdir: Path, report: Report
) -> None:
    """wrk against each server alone, bare then Parley, ``--rounds`` times."""
    admin = _token(secret, STAFF_ID, "admin")
    created = await create_conversations(parley.base_url, admin, args.conversations)
    conversation_ids = [UUID(c) for c in created]
    log(f"created {len(conversation_ids)} conversations through the API")
    lua = workdir / "send_message.lua"
    write_lua(lua, conversation_ids, admin)
    load = {"connections": args.connections, "threads": args.threads}
    for server in (bare, parley) if args.warmup > 0 else ():
        await run_wrk(server, lua, seconds=args.warmup, round_=0, **load)
    for round_ in range(1, args.rounds + 1):
        for server in (bare, parley):
            head = await log_head(url)
            r = await run_wrk(server, lua, seconds=args.seconds, round_=round_, **load)
            commits = ""
            if server is parley:
                await asyncio.sleep(0.5)  # the last answered appends
                r.stored_events, r.transactions = await commits_since(url, head)
                if r.transactions and r.stored_events:
                    commits = f", {r.transactions / r.seconds:,.0f} commits/s of "
                    commits += f"{r.stored_events / r.transactions:.1f} appends"
            report.throughput.append(r)
            log(
                f"round {round_} {server.name:>6}: {r.requests_per_s:,.0f} req/s, p50 "
                f"{r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, non-2xx {r.non_2xx}, server CPU "
                f"{r.server_cpu_percent:.0f}% ({r.server_cpu_us_per_request:.0f} µs/request),"
                f" machine CPU {r.machine_cpu_percent:.0f}%{commits}"
            )
    report.stored = await check_stored(url, conversation_ids)


async def measure_length(
    args: Any, secret: str, base_url: str, seeded: dict[str, Seeded], report: Report
) -> None:
    """Sequential sends alternating between a long and a short conversation."""
    admin = _token(secret, STAFF_ID, "admin")
    worst_client = _token(secret, "c-worst", "client", client_id="c-worst")
    plans = [("realistic", "admin", admin, "long", "short", True)]
    if args.worst_messages > 0:
        plans.append(("worst case", "client", worst_client, "worst", "worst-short", True))
        plans.append(("worst case", "admin", admin, "worst", "worst-short", False))
    for name, sender, token, long_label, short_label, cold in plans:
        long, short = seeded[long_label], seeded[short_label]
        r = await sequential_sends(base_url, token, name, sender, long, short, args.requests, cold)
        report.length.append(r)
        log(
            f"{name}, as {sender}: first {r.first_long_ms:,.1f} / {r.first_short_ms:,.1f} ms, "
            f"p50 {r.long_p50_ms:.2f} / {r.short_p50_ms:.2f} ms (ratio {r.ratio_p50:.2f})"
        )


# -- output ------------------------------------------------------------------------------
