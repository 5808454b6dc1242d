"""Event store appends: Parley's store against eventsourcing's, or against itself without
hash chain and sealing (``parley-bare``; ``parley-bare-json``: its documents as json), or
without one of them (``parley-chain``: chain, nothing sealed; ``parley-sealed``: sealed, no
chain); docs/BENCHMARKS.md."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncio
from typing import Any

import psycopg

from bench import common
from bench.append_engines import PARLEY_ENGINES, Run, run_eventsourcing, run_parley, workload
from bench.databases import throwaway_database

OPTIONS: list[common.Option] = [("seconds", float, 8.0, "measured seconds per run")]
OPTIONS += [("warmup", float, 1.0, "unmeasured seconds first"), ("streams", int, 1000, "")]
OPTIONS += [("max-events", int, 1_000_000, "end a run after this many")]
OPTIONS += [("batch-sizes", common.csv(int), [1, 100], "events per append, comma-separated")]
OPTIONS += [("concurrency", common.csv(int), [1, 32], "concurrent callers, comma-separated")]
ENGINES = ("parley", "eventsourcing", *list(PARLEY_ENGINES)[1:])
OPTIONS += [("engines", common.csv(str), list(ENGINES[:2]), "two of " + ",".join(ENGINES))]
OPTIONS += [("writers", int, 2, "PostgresEventStore writers")]
OPTIONS += [("any-version", bool, False, "expected_version=None instead of the tracked version")]
OPTIONS += [("max-batch-events", int, 2000, "group-commit bound")]
SETTINGS = ("seconds", "warmup", "max_events", "streams", "track_versions", "writers")


def find(report: common.Report, engine: str, n: int, c: int) -> dict[str, Any] | None:
    keys = ("engine", "events_per_append", "concurrency")
    return next((r for r in report["results"] if tuple(r[k] for k in keys) == (engine, n, c)), None)


def ratio(report: common.Report, n: int, c: int, vs: str = "eventsourcing") -> float | None:
    parley, es = find(report, "parley", n, c), find(report, vs, n, c)
    if parley and es and es["events_per_s"]:
        return float(parley["events_per_s"] / es["events_per_s"])
    return None


async def run(args: Any) -> common.Report:
    """Every workload on each engine, in a fresh schema of that engine's throwaway database."""
    load_before, results = common.load_average()[0], list[dict[str, Any]]()
    async with (
        throwaway_database(args.database_url, "bench_parley") as (parley_url, facts),
        throwaway_database(args.database_url, "bench_eventsourcing") as (es_url, _),
    ):
        for number, (n, c) in enumerate(args.workloads, start=1):
            schema = f"w{number}_{n}x{c}"
            for engine in args.engines:
                common.log(f"{workload(n)} appends, concurrency {c}: {engine} ...")
                trial = Run(n, c, args)
                try:  # on Ctrl-C, ``stop`` lets the caller threads finish
                    if engine in PARLEY_ENGINES:
                        where = f"{schema}_{engine.replace('-', '_')}"
                        result = await run_parley(parley_url, where, trial, engine)
                    else:
                        result = await asyncio.to_thread(run_eventsourcing, es_url, schema, trial)
                finally:
                    trial.stop.set()
                results.append(result)
                common.log(f"  {result['events_per_s']:,.0f} events/s ({result['verified']})")
    report = {**common.facts(), "postgresql": facts.pop("server_version"), "event_loop": args.loop}
    report["psycopg"] = f"{psycopg.__version__} ({psycopg.pq.__impl__})"
    report |= {"load_average": (load_before, common.load_average()[0]), "server_settings": facts}
    settings = {k: getattr(args, k) for k in (*SETTINGS, "max_batch_events")}
    return report | {"settings": settings, "results": results, "engines": args.engines}


def targets(report: common.Report) -> common.Checks:
    """Issue 2's targets, at concurrency 32."""
    checks: common.Checks = []
    for n, floor in ((1, 5_000), (100, 30_000)):
        if parley := find(report, "parley", n, 32):
            what = f"Parley, {workload(n)} appends, concurrency 32: >= {floor:,} events/s"
            checks.append((what, f"{parley['events_per_s']:,.0f}", parley["events_per_s"] >= floor))
    for n in (1, 100):
        if (r := ratio(report, n, 32)) is not None:
            what = f"Parley >= 3x eventsourcing, {workload(n)} appends, concurrency 32"
            checks.append((what, f"{r:.1f}x", r >= 3))
        for bare in ("parley-bare", "parley-bare-json"):  # issue 19
            if (r := ratio(report, n, 32, bare)) is not None:
                what = f"chain and sealing at most 15 % slower, {workload(n)} appends, c32"
                checks.append((what, f"{r:.2f} of {bare}", r >= 0.85))
    return checks


def render(report: common.Report) -> str:
    s, rows, (one, other) = report["settings"], [], [*report["engines"], "eventsourcing"][:2]
    header = ["workload", "concurrency", f"{one} events/s", f"{other} events/s", "ratio"]
    header += [f"{one} p50 / p99 ms", f"{other} p50 / p99 ms"]
    server = ", ".join(f"{k}={v}" for k, v in report["server_settings"].items())
    versions = "tracked per stream" if s["track_versions"] else "None (any version)"
    runs = dict.fromkeys((r["events_per_append"], r["concurrency"]) for r in report["results"])
    for n, c in runs:
        both, x = [find(report, e, n, c) for e in (one, other)], ratio(report, n, c, other)
        rows.append([f"{workload(n)} appends", str(c)])
        rows[-1] += ["-" if r is None else f"{r['events_per_s']:,.0f}" for r in both]
        rows[-1] += ["-" if x is None else f"{x:.1f}x"]
        latency = "{latency_p50_ms:.1f} / {latency_p99_ms:.1f}"
        rows[-1] += ["-" if r is None else latency.format(**r) for r in both]
    cpu = [
        f"  {r['engine']}, {workload(r['events_per_append'])} x{r['concurrency']}: Python "
        f"{r['python_us_per_event']:g}, PostgreSQL {r['postgres_us_per_event']:g}"
        for r in report["results"]
        if "python_us_per_event" in r
    ]
    load = report["load_average"]
    lines = [
        f"Event store appends: {one} vs {other} (eventsourcing: its PostgresApplicationRecorder; "
        "parley-bare: no hash chain, nothing sealed; parley-bare-json: the same, documents as "
        "json; parley-chain: chain only; parley-sealed: sealing only)",
        f"date:       {report['date']}",
        f"command:    {report['command']}",
        f"python:     {report['python']} ({report['event_loop']} event loop), "
        f"psycopg {report['psycopg']}, {report['cpus']} CPUs, 1-min load average "
        f"{load[0]:g} before / {load[1]:g} after",
        f"postgresql: {report['postgresql']} ({server})",
        f"workload:   MessageSent events with {len(common.CONTENT)} B of content over "
        f"{s['streams']:,} streams; expected_version {versions}; {s['warmup']:g} s warm-up, "
        f"then {s['seconds']:g} s or {s['max_events']:,} events; Parley writers={s['writers']}, "
        f"max_batch_events={s['max_batch_events']}",
        "",
        *common.markdown_table(header, rows),
        "",
        "CPU per event in the measured window, µs (this process; every PostgreSQL process):",
        *cpu,
    ]
    if checks := targets(report):
        lines += ["", *common.targets_lines("Targets (issue 2):", checks)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    what = "Appended events/s: Parley's event store vs eventsourcing's recorder."
    p = common.parser("bench.append", what, OPTIONS, nats=False, loop=True)
    args = p.parse_args(argv)
    if set(args.engines) - set(ENGINES) or len(args.engines) > 2 or args.engines[0] != "parley":
        p.error(f"--engines: parley, then one of {', '.join(ENGINES[1:])} (or none)")
    args.track_versions = not args.any_version
    args.workloads = [(n, c) for n in args.batch_sizes for c in args.concurrency]
    report = common.run_main(run(args), args.loop)
    ratios = {f"{n}x{c}": ratio(report, n, c) for n, c in args.workloads} if report else {}
    return common.emit(report, render, targets, args, ratios=ratios)


if __name__ == "__main__":
    sys.exit(main())
