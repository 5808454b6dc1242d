"""Event store appends: Parley's PostgresEventStore against the eventsourcing
library's PostgreSQL recorder, on the same server, in the same run (what is
measured: docs/BENCHMARKS.md, "Event store appends").

Run from the repository root (either form works)::

    .venv/bin/python -m bench.append
    .venv/bin/python bench/append.py --seconds 5 --json
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict

from bench.append_engines import Report, run
from bench.append_workload import CONTENT, Result, Settings, Workload
from bench.common import int_list, log, markdown_table, parser, run_main, targets_lines


def _find(report: Report, engine: str, n: int, concurrency: int) -> Result | None:
    for r in report.results:
        if (r.engine, r.events_per_append, r.concurrency) == (engine, n, concurrency):
            return r
    return None


def ratio(report: Report, n: int, concurrency: int) -> float | None:
    parley = _find(report, "parley", n, concurrency)
    es = _find(report, "eventsourcing", n, concurrency)
    if parley is None or es is None or es.events_per_s == 0:
        return None
    return parley.events_per_s / es.events_per_s


def targets(report: Report) -> list[tuple[str, str, bool]]:
    """Issue 2's targets, at concurrency 32: (target, measured, met)."""
    checks: list[tuple[str, str, bool]] = []
    for n, floor in ((1, 5_000), (100, 30_000)):
        what = f"{Workload(n, 32).name} appends, concurrency 32"
        if (parley := _find(report, "parley", n, 32)) is not None:
            rate = parley.events_per_s
            checks.append((f"Parley, {what}: >= {floor:,} events/s", f"{rate:,.0f}", rate >= floor))
    for n in (1, 100):
        what = f"{Workload(n, 32).name} appends, concurrency 32"
        if (r := ratio(report, n, 32)) is not None:
            checks.append((f"Parley >= 3x eventsourcing, {what}", f"{r:.1f}x", r >= 3))
    return checks


def render_table(report: Report) -> str:
    header = ["workload", "concurrency", "Parley events/s", "eventsourcing events/s", "ratio"]
    header += ["Parley p50 / p99 ms", "eventsourcing p50 / p99 ms"]

    def rate(x: Result | None) -> str:
        return "-" if x is None else f"{x.events_per_s:,.0f}"

    def lat(x: Result | None) -> str:
        return "-" if x is None else f"{x.latency_p50_ms:.1f} / {x.latency_p99_ms:.1f}"

    rows: list[list[str]] = []
    keys = dict.fromkeys((r.events_per_append, r.concurrency, r.workload) for r in report.results)
    for n, concurrency, name in keys:
        parley = _find(report, "parley", n, concurrency)
        es = _find(report, "eventsourcing", n, concurrency)
        r = ratio(report, n, concurrency)
        shown = "-" if r is None else f"{r:.1f}x"
        rows.append([f"{name} appends", str(concurrency), rate(parley), rate(es), shown])
        rows[-1] += [lat(parley), lat(es)]
    return "\n".join(markdown_table(header, rows))


def render(report: Report) -> str:
    s = report.settings
    server = ", ".join(f"{k}={v}" for k, v in report.server_settings.items())
    lines = [
        "Event store appends: Parley PostgresEventStore vs eventsourcing "
        "PostgresApplicationRecorder",
        f"date:       {report.date}",
        f"command:    {report.command}",
        f"python:     {report.python} ({report.event_loop} event loop), "
        f"psycopg {report.psycopg}, {report.cpus} CPUs, 1-min load average "
        f"{report.load_average[0]:g} before / {report.load_average[1]:g} after",
        f"postgresql: {report.postgresql} ({server})",
        f"workload:   MessageSent events with {len(CONTENT)} B of content over "
        f"{s['streams']:,} streams; expected_version "
        + ("tracked per stream" if s["track_versions"] else "None (any version)")
        + f"; {s['warmup']:g} s warm-up, then {s['seconds']:g} s or {s['max_events']:,} events"
        f"; Parley writers={s['writers']}, max_batch_events={s['max_batch_events']}",
        "",
        render_table(report),
    ]
    if checks := targets(report):
        lines += ["", *targets_lines("Targets (issue 2):", checks)]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(
        "bench.append",
        "Appended events/s: Parley's event store vs eventsourcing's recorder.",
        nats=False,
        loop=True,
    )
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    p.add_argument("--max-events", type=int, default=1_000_000, help="end a run after this many")
    p.add_argument("--streams", type=int, default=1000, help="conversation streams")
    p.add_argument("--batch-sizes", type=int_list, default=[1, 100], metavar="N,N")
    p.add_argument("--concurrency", type=int_list, default=[1, 32], metavar="N,N")
    p.add_argument(
        "--engines",
        type=lambda text: text.split(","),
        default=["parley", "eventsourcing"],
        metavar="parley,eventsourcing",
    )
    p.add_argument(
        "--any-version",
        action="store_true",
        help="append with expected_version=None instead of the tracked version",
    )
    p.add_argument("--writers", type=int, default=2, help="PostgresEventStore writers")
    p.add_argument("--max-batch-events", type=int, default=2000, help="group-commit bound")
    args = p.parse_args(argv)
    unknown = set(args.engines) - {"parley", "eventsourcing"}
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        seconds=args.seconds,
        warmup=args.warmup,
        max_events=args.max_events,
        streams=args.streams,
        track_versions=not args.any_version,
        writers=args.writers,
        max_batch_events=args.max_batch_events,
    )
    workloads = [Workload(n, c) for n in args.batch_sizes for c in args.concurrency]
    try:
        coro = run(args.database_url, workloads, args.engines, settings, args.loop)
        report = run_main(coro, args.loop)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    if not args.json:
        print(render(report))
        return 0
    data = asdict(report)
    pairs = [(n, c) for n in args.batch_sizes for c in args.concurrency]
    data["ratios"] = {f"{n}x{c}": ratio(report, n, c) for n, c in pairs}
    data["targets"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in targets(report)]
    print(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
