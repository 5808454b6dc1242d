"""Commands over HTTP: SendMessage against a bare endpoint under wrk; cost vs length."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os
import secrets
import statistics
import tempfile
import time
from importlib.metadata import version
from typing import Any
from uuid import uuid4

from bench import commands_load as load
from bench import common
from bench.databases import STAFF_ID, throwaway_database
from bench.servers import UVICORN_SETTINGS

LOAD_HEADER = ["endpoint", "req/s per round", "median req/s", "p50 ms", "p99 ms", "non-2xx"]
LOAD_HEADER += ["socket errors", "server CPU", "server CPU µs/req", "machine CPU"]
LENGTH_HEADER = ["conversation", "events", "first request ms", "p50 ms", "p99 ms", "p50 long/short"]
ENDPOINTS = {"bare": "bare Litestar (validation only)", "parley": "Parley SendMessage"}
MEDIANS = [("requests_per_s", "{:,.0f}"), ("p50_ms", "{:.1f}"), ("p99_ms", "{:.1f}")]  # key, format
CPU = [("server_cpu_percent", "{:.0f}%"), ("server_cpu_us_per_request", "{:.0f}")]
CPU += [("machine_cpu_percent", "{:.0f}%")]

OPTIONS: list[common.Option] = [("seconds", float, 10.0, "seconds per wrk run (0: skip)")]
OPTIONS += [("warmup", float, 2.0, "unmeasured wrk seconds per server")]
OPTIONS += [("rounds", int, 3, "bare+parley rounds (median)"), ("connections", int, 64, "")]
OPTIONS += [("threads", int, 2, ""), ("conversations", int, 200, "")]
OPTIONS += [("long-messages", int, 100_000, ""), ("short-messages", int, 100, "")]
OPTIONS += [("worst-messages", int, 100_000, "unread client messages of the worst case (0: skip)")]
OPTIONS += [("requests", int, 300, "warm requests per conversation (0: skip)")]
OPTIONS += [("uncached", int, 20, "first commands by a new handler, per snapshot (0: skip)")]
OPTIONS += [("uncached-bare", int, 3, "... with none (>= 1)"), ("snapshot-every", int, 500, "")]
OPTIONS += [("server-module", str, "bench.servers", "a variant of bench.servers serving Parley")]
SETTINGS = [name.replace("-", "_") for name, *_ in OPTIONS[:-1]]  # all but --server-module


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
    report |= {"throughput": [], "stored": {}, "length": [], "uncached": []}
    secret = secrets.token_urlsafe(32)
    async with throwaway_database(args.database_url, "bench_commands", migrated=True) as (url, pg):
        report["postgresql"], started = pg, time.perf_counter()
        seeded = await load.seed_all(url, args)
        report["seeded_seconds"] = round(time.perf_counter() - started, 1)
        env = {**os.environ, "PARLEY_JWT_SECRET": secret, "PYTHONUNBUFFERED": "1"}
        argv = ["--database-url", url, "--nats-url", args.nats_url]
        with (
            tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp,
            common.stopping([]) as servers,
        ):
            workdir = Path(tmp)
            servers.append(common.start_module("parley", args.server_module, argv, workdir, env))
            servers.append(common.start_module("bare", "bench.servers", ["commands"], workdir, env))
            parley, bare = servers
            probe = {"conversation_id": str(uuid4()), "content": load.CONTENT}
            await common.wait_ready(parley)  # live, not ready: that wants workers too
            await common.wait_ready(bare, "/api/messages", probe)
            common.log(f"servers up: parley pid {parley.pid}, bare pid {bare.pid}")
            admin = common.token(secret, STAFF_ID)
            if args.seconds > 0:
                await load.measure_load(args, url, admin, servers, workdir, report)
            if args.requests > 0:
                await load.measure_length(args, secret, parley.base_url, seeded, report)
            for label in [k for k in ("long", "worst") if k in seeded and args.uncached > 0]:
                await load.measure_uncached(args, url, seeded, report, label)
    return report


def targets(report: common.Report) -> common.Checks:
    checks: common.Checks = []
    if report["throughput"]:
        parley, bare = (median(report, e, "requests_per_s") for e in ("parley", "bare"))
        measured = f"{share(report):.0%} ({parley:,.0f} vs {bare:,.0f} req/s)"
        what = "SendMessage >= 30% of the bare endpoint's rate"
        checks.append((what, measured, share(report) >= 0.3))
        p99 = median(report, "parley", "p99_ms")
        checks.append(("SendMessage p99 < 100 ms at 64 connections", f"{p99:.1f} ms", p99 < 100))
        errors = sum(r["non_2xx"] + r["socket_errors"] for r in runs(report, "parley"))
        checks.append(("SendMessage: no non-2xx answers or socket errors", str(errors), not errors))
    for r in report["length"]:
        if r["name"] == "realistic":
            what = f"p50 latency, {r['long_label']} / {r['short_label']} < 1.5"
            checks.append((what, f"{r['ratio_p50']:.2f}", r["ratio_p50"] < 1.5))
    for r in (r for r in report["uncached"] if r["snapshot"] != "none"):
        what = f"uncached {r['conversation']}, snapshot {r['snapshot']}: p50 < 50 ms"
        checks.append((what, f"{r['p50']:,.1f} ms", r["p50"] < 50))
    return checks


def render_load(report: common.Report) -> list[str]:
    s, rows = report["settings"], []
    for endpoint, label in ENDPOINTS.items():
        mine = runs(report, endpoint)
        row = [label, " / ".join(f"{r['requests_per_s']:,.0f}" for r in mine)]
        row += [f.format(median(report, endpoint, key)) for key, f in MEDIANS]
        row += [str(sum(r[k] for r in mine)) for k in ("non_2xx", "socket_errors")]
        rows.append(row + [f.format(median(report, endpoint, key)) for key, f in CPU])
    lines = [
        f"load:       wrk -t{s['threads']} -c{s['connections']} -d{s['seconds']:g}s, "
        f"SendMessage bodies ({len(load.CONTENT)}-char content, admin bearer token) for one of "
        f"{s['conversations']} conversations at random; each server alone, "
        f"{s['rounds']} round(s) of bare then parley after a {s['warmup']:g} s warm-up each; "
        "medians",
        "",
        *common.markdown_table(LOAD_HEADER, rows),
        f"Parley / bare: {share(report):.0%}",
    ]
    if st := report["stored"]:
        broken = f"{st['broken']} with BROKEN seqs" if st["broken"] else "seqs 1..n in every one"
        stored = f"{st['messages']:,} messages in {st['conversations']} conversations"
        lines.append(f"stored: {stored}, {broken}")
    if per_round := [load.commits(r) for r in runs(report, "parley") if r["transactions"]]:
        lines.append("Parley's group commits per round: " + " / ".join(per_round))
    lines.append("(server CPU: the server process, 100% = one core, and its CPU time per answered "
                 f"request; machine CPU: all {report['cpus']} cores, wrk, PostgreSQL and anything "
                 "else running included)")  # fmt: skip
    return lines


def render_length(report: common.Report) -> list[str]:
    rows = []
    for r in report["length"]:
        first = "cold" if r["first_is_cold"] else "warm"
        for side in ("short", "long"):
            name = f"{r['name']}, as {r['sender']}: {r[side + '_label']}"
            first_ms = f"{r['first_' + side + '_ms']:,.1f} ({first})"
            rows.append([name, f"{r[side + '_events']:,}", first_ms])
            rows[-1] += [f"{r[f'{side}_p{q}_ms']:.2f}" for q in (50, 99)] + [""]
        rows[-1][-1] = f"{r['ratio_p50']:.2f}"
        if r["non_201"]:
            rows[-1][0] += f" ({r['non_201']} non-201!)"
    return [
        "",
        "Length: one httpx client, sequential, alternating between a long and a short "
        f"conversation, {report['settings']['requests']} warm requests each after the first "
        f"(seeded {report['seeded_seconds']:g} s)",
        "",
        *common.markdown_table(LENGTH_HEADER, rows),
    ]


def render(report: common.Report) -> str:
    pg, v = report["postgresql"], report["versions"]
    load = " ".join(f"{x:.2f}" for x in report["load_average"])
    lines = [
        "Commands over HTTP: Parley POST /api/messages (SendMessage) vs a bare Litestar endpoint",
        f"date:       {report['date']}",
        f"command:    {report['command']}",
        f"machine:    {report['cpus']} CPUs (load average at start: {load}), Python "
        f"{report['python']}; PostgreSQL {pg.get('server_version')} (synchronous_commit="
        f"{pg.get('synchronous_commit')}, fsync={pg.get('fsync')}, "
        f"shared_buffers={pg.get('shared_buffers')})",
        f"servers:    uvicorn {v['uvicorn']}, 1 process, loop=uvloop, http=httptools, no access"
        f" log; Litestar {v['litestar']}, msgspec {v['msgspec']}, asyncpg {v['asyncpg']}",
    ]
    lines += render_load(report) if report["throughput"] else []
    lines += render_length(report) if report["length"] else []
    if uncached := report.get("uncached"):
        lines += ["", "Uncached: a new CommandHandler's first SendMessage (no HTTP) on"]
        for r in uncached:
            what = f"  {r['conversation']} ({r['events']:,} events), snapshot {r['snapshot']}"
            lines.append(f"{what}: p50 {r['p50']:,.1f} ms, max {r['max']:,.1f} ms of {r['n']}")
    if checks := targets(report):
        lines += ["", *common.targets_lines("Targets (issues 3, 18):", checks)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    what = "SendMessage over HTTP vs a bare Litestar endpoint; cost vs conversation length."
    args = common.parser("bench.commands", what, OPTIONS).parse_args(argv)
    if (report := common.run_main(run(args))) is None:
        return 130
    medians = {e: {k: median(report, e, k) for k, _ in MEDIANS} for e in ("bare", "parley")}
    share_ = share(report) if report["throughput"] else None
    return common.emit(report, render, targets, args, medians=medians, parley_share_of_bare=share_)


if __name__ == "__main__":
    sys.exit(main())
