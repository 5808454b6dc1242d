"""One run of bench.commands: seed, start both servers, load them, measure."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
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


def runs(report: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    return [r for r in report["throughput"] if r["endpoint"] == endpoint]


def median(report: dict[str, Any], endpoint: str, key: str) -> float:
    values = [r[key] for r in runs(report, endpoint)]
    return statistics.median(values) if values else float("nan")


def share(report: dict[str, Any]) -> float:
    return median(report, "parley", "requests_per_s") / median(report, "bare", "requests_per_s")


async def run(args: Any) -> dict[str, Any]:
    versions = ("litestar", "uvicorn", "msgspec", "asyncpg", "httptools", "uvloop")
    report = {**common.facts(), "postgresql": {}, "versions": {p: version(p) for p in versions}}
    report |= {"load_average": common.load_average(), "uvicorn": dict(UVICORN_SETTINGS)}
    report |= {"settings": {k: getattr(args, k) for k in SETTINGS}, "seeded_seconds": 0.0}
    report |= {"throughput": [], "stored": {}, "length": []}
    secret = secrets.token_urlsafe(32)
    migrations = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]
    async with throwaway_database(args.database_url, "bench_commands", migrations) as (url, facts):
        report["postgresql"], started = facts, time.perf_counter()
        seeded = await load.seed_all(url, args)
        report["seeded_seconds"] = round(time.perf_counter() - started, 1)
        env = {**os.environ, "PARLEY_JWT_SECRET": secret, "PYTHONUNBUFFERED": "1"}
        parley_args = ["--database-url", url, "--nats-url", args.nats_url]
        with (
            tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp,
            common.stopping([]) as servers,
        ):
            workdir = Path(tmp)
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
    return report


async def measure_load(
    args: Any,
    url: str,
    admin: str,
    servers: list[common.Proc],
    workdir: Path,
    report: dict[str, Any],
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
                r["stored_events"], r["transactions"] = stored["events"], stored["transactions"]
                if stored["transactions"] and stored["events"]:
                    commits = f", {load.commits(r)}"
            report["throughput"].append(r)
            common.log(
                f"round {round_} {server.name:>6}: {r['requests_per_s']:,.0f} req/s, p50 "
                f"{r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, non-2xx {r['non_2xx']}, server "
                f"CPU {r['server_cpu_percent']:.0f}% ({r['server_cpu_us_per_request']:.0f} µs/"
                f"request), machine CPU {r['machine_cpu_percent']:.0f}%{commits}"
            )
    report["stored"] = await load.fetchrow(
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
    args: Any, secret: str, base_url: str, seeded: dict[str, Any], report: dict[str, Any]
) -> None:
    """Sequential sends, alternating between a long and a short conversation."""
    admin = common.token(secret, load.STAFF_ID)
    plans = [("realistic", "admin", admin, "long", "short", True)]
    if args.worst_messages > 0:
        worst_client = common.token(secret, "c-worst", "client", client_id="c-worst")
        plans.append(("worst case", "client", worst_client, "worst", "worst-short", True))
        plans.append(("worst case", "admin", admin, "worst", "worst-short", False))
    for name, sender, jwt, long_label, short_label, cold in plans:
        pair = {"long": seeded[long_label], "short": seeded[short_label]}
        failures: list[str] = []
        first: dict[str, float] = {}
        timings: dict[str, list[float]] = {"long": [], "short": []}
        headers = {"Authorization": f"Bearer {jwt}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as client:
            await client.get("/health/live")  # open the connection first
            for side, (conversation_id, _, _) in pair.items():
                first[side] = await send(client, failures, conversation_id)
            for _ in range(args.requests):
                for side, (conversation_id, _, _) in pair.items():
                    timings[side].append(await send(client, failures, conversation_id))
        if failures:
            common.log(f"  {len(failures)} requests failed, e.g. {failures[0]}")
        r = {"name": name, "sender": sender, "first_is_cold": cold, "requests_each": args.requests}
        for side, (_, described, events) in pair.items():
            r |= {f"{side}_label": described, f"{side}_events": events}
            r |= {f"first_{side}_ms": first[side]}
            r |= {f"{side}_p{q}_ms": common.percentile(timings[side], q) for q in (50, 99)}
        r |= {"ratio_p50": r["long_p50_ms"] / r["short_p50_ms"], "non_201": len(failures)}
        report["length"].append(r)
        common.log(
            f"{name}, as {sender}: first {first['long']:,.1f} / {first['short']:,.1f} ms, p50 "
            f"{r['long_p50_ms']:.2f} / {r['short_p50_ms']:.2f} ms (ratio {r['ratio_p50']:.2f})"
        )
