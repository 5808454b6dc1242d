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

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bench.append_report import ratio, render, run, targets
from bench.append_workload import Settings, Workload
from bench.common import int_list, log, parser, run_main


def parse_args(argv: Sequence[str] | None = None) -> Any:
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
