"""Commands over HTTP: Parley's ``POST /api/messages`` (SendMessage) against a
bare Litestar endpoint under wrk, and the cost of a send against the length
of the conversation (what is measured: docs/BENCHMARKS.md, "Commands over
HTTP"). Needs ``wrk`` on the PATH unless ``--seconds 0``.

Run from the repository root (either form works)::

    .venv/bin/python -m bench.commands [--json]
    .venv/bin/python bench/commands.py --seconds 5
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict

from bench import common
from bench.commands_conversations import CONTENT
from bench.commands_run import Report, run
from bench.common import log, markdown_table, targets_lines

LOAD_HEADER = ["endpoint", "req/s per round", "median req/s", "p50 ms", "p99 ms", "non-2xx"]
LOAD_HEADER += ["socket errors", "server CPU", "server CPU µs/req", "machine CPU"]
LENGTH_HEADER = ["conversation", "events", "first request ms", "p50 ms", "p99 ms"]
LENGTH_HEADER += ["p50 long/short"]
ENDPOINTS = {"bare": "bare Litestar (validation only)", "parley": "Parley SendMessage"}


def render_load(report: Report) -> list[str]:
    s, m = report.settings, report.median
    rows = []
    for endpoint, label in ENDPOINTS.items():
        runs = report.runs(endpoint)
        rates = " / ".join(f"{r.requests_per_s:,.0f}" for r in runs)
        row = [label, rates, f"{m(endpoint, 'requests_per_s'):,.0f}"]
        row += [f"{m(endpoint, 'p50_ms'):.1f}", f"{m(endpoint, 'p99_ms'):.1f}"]
        row += [str(sum(r.non_2xx for r in runs)), str(sum(r.socket_errors for r in runs))]
        row += [f"{m(endpoint, 'server_cpu_percent'):.0f}%"]
        row += [f"{m(endpoint, 'server_cpu_us_per_request'):.0f}"]
        rows.append([*row, f"{m(endpoint, 'machine_cpu_percent'):.0f}%"])
    lines = [
        f"load:       wrk -t{s['threads']} -c{s['connections']} -d{s['seconds']:g}s, "
        f"SendMessage bodies ({len(CONTENT)}-char content, admin bearer token) for one of "
        f"{s['conversations']} conversations at random; each server alone, "
        f"{s['rounds']} round(s) of bare then parley after a {s['warmup']:g} s warm-up each; "
        "medians",
        "",
        *markdown_table(LOAD_HEADER, rows),
        f"Parley / bare: {report.share:.0%}",
    ]
    if st := report.stored:
        broken = (
            "seqs 1..n in every one" if not st["broken"] else f"{st['broken']} with BROKEN seqs"
        )
        lines.append(
            f"stored: {st['messages']:,} messages in {st['conversations']} conversations, {broken}"
        )
    commits = [
        f"{r.transactions / r.seconds:,.0f}/s of {r.stored_events / r.transactions:.1f} appends"
        for r in report.runs("parley")
        if r.transactions and r.stored_events
    ]
    if commits:
        lines.append("Parley's group commits per round: " + " / ".join(commits))
    lines.append(
        "(server CPU: the server process, 100% = one core, and its CPU time per answered "
        f"request; machine CPU: all {report.cpus} cores, wrk, PostgreSQL and anything else "
        "running included)"
    )
    return lines


def render_length(report: Report) -> list[str]:
    rows = []
    for r in report.length:
        first = "cold" if r.first_is_cold else "warm"
        for label, events, first_ms, p50, p99 in (
            (r.short_label, r.short_events, r.first_short_ms, r.short_p50_ms, r.short_p99_ms),
            (r.long_label, r.long_events, r.first_long_ms, r.long_p50_ms, r.long_p99_ms),
        ):
            name = f"{r.name}, as {r.sender}: {label}"
            rows.append([name, f"{events:,}", f"{first_ms:,.1f} ({first})", f"{p50:.2f}"])
            rows[-1] += [f"{p99:.2f}", ""]
        rows[-1][-1] = f"{r.ratio_p50:.2f}"
        if r.non_201:
            rows[-1][0] += f" ({r.non_201} non-201!)"
    return [
        "",
        "Length: one httpx client, sequential, alternating between a long and a short "
        f"conversation, {report.settings['requests']} warm requests each after the first "
        f"(seeded {report.seeded_seconds:g} s)",
        "",
        *markdown_table(LENGTH_HEADER, rows),
    ]


def render(report: Report) -> str:
    pg, v = report.postgresql, report.versions
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
    lines += render_load(report) if report.throughput else []
    lines += render_length(report) if report.length else []
    if checks := report.targets():
        lines += ["", *targets_lines("Targets (issue 3):", checks)]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = common.parser(
        "bench.commands",
        "SendMessage over HTTP vs a bare Litestar endpoint; cost vs conversation length.",
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = common.run_main(run(args))
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
