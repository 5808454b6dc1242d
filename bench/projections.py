"""The read side: relay throughput next to raw JetStream publishing, rebuild
throughput, and live projection lag under a steady command load (what is
measured: docs/BENCHMARKS.md, "Relay and projections").

Run from the repository root (either form works)::

    .venv/bin/python -m bench.projections [--json]
    .venv/bin/python bench/projections.py --parts relay,rebuild
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import json
import signal
from collections.abc import Sequence
from dataclasses import asdict

from bench import common
from bench.common import log
from bench.projections_report import RAW_VARIANTS, Report, render
from bench.projections_run import run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = common.parser(
        "bench.projections",
        "Relay vs raw JetStream publishing, rebuild throughput, live lag.",
        loop=True,
    )
    parser.add_argument("--events", type=int, default=50_000, help="(a) events to relay")
    parser.add_argument(
        "--rebuild-events", type=int, default=200_000, help="(b) events in the log to rebuild"
    )
    parser.add_argument("--rounds", type=int, default=3, help="(a) relay + raw rounds (median)")
    parser.add_argument(
        "--raw-variants",
        type=lambda s: [v for v in s.split(",") if v],
        default=list(RAW_VARIANTS),
        help=f"(a) comma-separated, from {','.join(RAW_VARIANTS)} (default: all)",
    )
    parser.add_argument("--rate", type=float, default=500.0, help="(c) commands per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="(c) measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="(c) unmeasured seconds")
    parser.add_argument("--conversations", type=int, default=100, help="(c) conversations")
    parser.add_argument(
        "--parts",
        type=lambda s: [p for p in s.split(",") if p],
        default=["relay", "rebuild", "live"],
        help="comma-separated, from relay,rebuild,live (default: all)",
    )
    args = parser.parse_args(argv)
    if unknown := set(args.raw_variants) - set(RAW_VARIANTS):
        parser.error(f"unknown raw variant(s): {', '.join(sorted(unknown))}")
    if unknown := set(args.parts) - {"relay", "rebuild", "live"}:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    if args.rebuild_events < 200_000:
        log("note: the acceptance asks for a rebuild over at least 200,000 events")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    with asyncio.Runner(loop_factory=common.loop_factory(args.loop)) as runner:
        task: asyncio.Task[Report] | None = None

        async def start() -> Report:
            nonlocal task
            task = asyncio.current_task()
            assert task is not None
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            return await run(args, argv)

        try:
            report = runner.run(start())
        except (KeyboardInterrupt, asyncio.CancelledError):
            log("interrupted")
            return 130
    if args.json:
        data = asdict(report)
        data["targets"] = [
            {"target": t, "measured": m, "met": met} for t, m, met in report.targets()
        ]
        print(json.dumps(data, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
