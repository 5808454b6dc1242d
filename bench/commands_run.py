"""One run of bench.commands: seed, start both servers, load them, measure."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx

from bench import commands_load as load
from bench import common
from bench.databases import create_conversations, throwaway_database
from bench.servers import UVICORN_SETTINGS
from commands.model import stream_id_for
from events.postgres.migrate import EVENT_STORE_MIGRATIONS
from projections import READ_MODEL_MIGRATIONS

SETTINGS = ["seconds", "warmup", "rounds", "connections", "threads", "conversations"]
SETTINGS += ["long_messages", "short_messages", "worst_messages", "requests"]


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
    throughput: list[load.WrkRun] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)
    length: list[LengthRun] = field(default_factory=list)

    def runs(self, endpoint: str) -> list[load.WrkRun]:
        return [r for r in self.throughput if r.endpoint == endpoint]

    def median(self, endpoint: str, attribute: str) -> float:
        values = [getattr(r, attribute) for r in self.runs(endpoint)]
        return statistics.median(values) if values else float("nan")

    @property
    def share(self) -> float:
        return self.median("parley", "requests_per_s") / self.median("bare", "requests_per_s")


async def run(args: Any) -> Report:
    report = Report(
        date=common.now_utc(),
        command=common.command_line(),
        python=common.python_version(),
        postgresql={},
        versions={
            p: version(p)
            for p in ("litestar", "uvicorn", "msgspec", "asyncpg", "httptools", "uvloop")
        },
        cpus=os.cpu_count(),
        load_average=common.load_average(),
        uvicorn=dict(UVICORN_SETTINGS),
        settings={k: getattr(args, k) for k in SETTINGS},
    )
    secret = secrets.token_urlsafe(32)
    migrations = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]
    async with throwaway_database(args.database_url, "bench_commands", migrations) as (url, facts):
        report.postgresql = facts
        started = time.perf_counter()
        seeded = await load.seed_all(url, args)
        report.seeded_seconds = round(time.perf_counter() - started, 1)
        with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
            workdir = Path(tmp)
            env = {**os.environ, "PARLEY_JWT_SECRET": secret, "PYTHONUNBUFFERED": "1"}
            parley_args = ["--database-url", url, "--nats-url", args.nats_url]
            servers: list[common.Proc] = []
            try:
                for name, module, argv in (
                    ("parley", args.server_module, parley_args),
                    ("bare", "bench.servers", ["commands"]),
                ):
                    servers.append(common.start_module(name, module, argv, workdir, env))
                parley, bare = servers
                probe = {"conversation_id": str(uuid4()), "content": load.CONTENT}
                # Liveness, not readiness: /health/ready also wants the relay and
                # projection workers, which this benchmark does not run.
                await common.wait_ready(parley)
                await common.wait_ready(bare, "/api/messages", probe)
                common.log(f"servers up: parley pid {parley.pid}, bare pid {bare.pid}")
                admin = common.token(secret, load.STAFF_ID)
                if args.seconds > 0:
                    await measure_load(args, url, admin, servers, workdir, report)
                if args.requests > 0:
                    await measure_length(args, secret, parley.base_url, seeded, report)
            except BaseException:
                for server in servers:
                    if server.process.poll() is not None and server.process.returncode != 0:
                        common.log(f"--- {server.name} server log ---\n{server.tail()}")
                raise
            finally:
                for server in servers:
                    common.stop(server)
    return report


async def measure_load(
    args: Any, url: str, admin: str, servers: list[common.Proc], workdir: Path, report: Report
) -> None:
    """wrk against each server alone, bare then Parley, ``--rounds`` times."""
    parley, bare = servers
    created = await create_conversations(parley.base_url, admin, args.conversations)
    conversation_ids = [UUID(c) for c in created]
    common.log(f"created {len(conversation_ids)} conversations through the API")
    load.write_lua(lua := workdir / "send_message.lua", conversation_ids, admin)
    for server in (bare, parley) if args.warmup > 0 else ():
        await load.run_wrk(server, lua, args.warmup, 0, args)
    for round_ in range(1, args.rounds + 1):
        for server in (bare, parley):
            head = (await load.fetchrow(url, load.HEAD))["head"]
            r = await load.run_wrk(server, lua, args.seconds, round_, args)
            commits = ""
            if server is parley:
                await asyncio.sleep(0.5)  # the last answered appends
                stored = await load.fetchrow(url, load.COMMITS, head)
                r.stored_events, r.transactions = stored["events"], stored["transactions"]
                if r.transactions and r.stored_events:
                    commits = f", {r.transactions / r.seconds:,.0f} commits/s of "
                    commits += f"{r.stored_events / r.transactions:.1f} appends"
            report.throughput.append(r)
            common.log(
                f"round {round_} {server.name:>6}: {r.requests_per_s:,.0f} req/s, p50 "
                f"{r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, non-2xx {r.non_2xx}, server CPU "
                f"{r.server_cpu_percent:.0f}% ({r.server_cpu_us_per_request:.0f} µs/request),"
                f" machine CPU {r.machine_cpu_percent:.0f}%{commits}"
            )
    report.stored = await load.fetchrow(
        url, load.STORED, [stream_id_for(c) for c in conversation_ids]
    )


async def send(client: httpx.AsyncClient, failures: list[str], conversation_id: UUID) -> float:
    """The milliseconds of one SendMessage; a failure's status and text into ``failures``."""
    body = {"conversation_id": str(conversation_id), "content": load.CONTENT}
    started = time.perf_counter()
    response = await client.post("/api/messages", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        failures.append(f"{response.status_code} {response.text[:200]}")
    return elapsed


async def measure_length(
    args: Any, secret: str, base_url: str, seeded: dict[str, load.Seeded], report: Report
) -> None:
    """Sequential sends, alternating between a long and a short conversation."""
    admin = common.token(secret, load.STAFF_ID)
    plans = [("realistic", "admin", admin, "long", "short", True)]
    if args.worst_messages > 0:
        worst_client = common.token(secret, "c-worst", "client", client_id="c-worst")
        plans.append(("worst case", "client", worst_client, "worst", "worst-short", True))
        plans.append(("worst case", "admin", admin, "worst", "worst-short", False))
    for name, sender, jwt, long_label, short_label, cold in plans:
        long, short = seeded[long_label], seeded[short_label]
        failures: list[str] = []
        timings: dict[UUID, list[float]] = {long.conversation_id: [], short.conversation_id: []}
        headers = {"Authorization": f"Bearer {jwt}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as client:
            await client.get("/health/live")  # open the connection first

            first_long = await send(client, failures, long.conversation_id)
            first_short = await send(client, failures, short.conversation_id)
            for _ in range(args.requests):
                for conversation_id in timings:
                    timings[conversation_id].append(await send(client, failures, conversation_id))
        if failures:
            common.log(f"  {len(failures)} requests failed, e.g. {failures[0]}")
        long_ms, short_ms = timings[long.conversation_id], timings[short.conversation_id]
        r = LengthRun(
            name=name,
            sender=sender,
            long_label=long.describe(),
            short_label=short.describe(),
            long_events=long.events,
            short_events=short.events,
            first_is_cold=cold,
            first_long_ms=first_long,
            first_short_ms=first_short,
            requests_each=args.requests,
            long_p50_ms=common.percentile(long_ms, 50),
            long_p99_ms=common.percentile(long_ms, 99),
            short_p50_ms=common.percentile(short_ms, 50),
            short_p99_ms=common.percentile(short_ms, 99),
            ratio_p50=common.percentile(long_ms, 50) / common.percentile(short_ms, 50),
            non_201=len(failures),
        )
        report.length.append(r)
        common.log(
            f"{name}, as {sender}: first {r.first_long_ms:,.1f} / {r.first_short_ms:,.1f} ms, "
            f"p50 {r.long_p50_ms:.2f} / {r.short_p50_ms:.2f} ms (ratio {r.ratio_p50:.2f})"
        )
