"""One run of every workload and engine, and its report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

from bench.append_engines import run_eventsourcing_async, run_parley
from bench.append_workload import CONTENT, Result, Settings, Workload
from bench.common import (
    command_line,
    load_average,
    log,
    markdown_table,
    now_utc,
    python_version,
    targets_lines,
)
from bench.databases import throwaway_database


@dataclass
class Report:
    date: str
    command: str
    python: str
    postgresql: str
    event_loop: str
    psycopg: str
    cpus: int | None
    load_average: tuple[float, float]
    server_settings: dict[str, str]
    settings: dict[str, Any]
    results: list[Result]


async def run(
    url: str, workloads: Sequence[Workload], engines: Sequence[str], settings: Settings, loop: str
) -> Report:
    """Every workload on each engine, each in a fresh schema of its engine's
    throwaway database (two databases, dropped at the end)."""
    load_before = load_average()
    results: list[Result] = []
    async with (
        throwaway_database(url, "bench_parley") as (parley_url, facts),
        throwaway_database(url, "bench_eventsourcing") as (es_url, _),
    ):
        es_database = urlsplit(es_url).path.lstrip("/")
        for number, wl in enumerate(workloads, start=1):
            schema = f"w{number}_{wl.events_per_append}x{wl.concurrency}"
            for engine in engines:
                log(f"{wl.name} appends, concurrency {wl.concurrency}: {engine} ...")
                if engine == "parley":
                    result = await run_parley(parley_url, schema, wl, settings)
                else:
                    result = await run_eventsourcing_async(url, es_database, schema, wl, settings)
                results.append(result)
                log(f"  {result.events_per_s:,.0f} events/s ({result.verified})")
    return Report(
        date=now_utc(),
        command=command_line(),
        python=python_version(),
        postgresql=facts.pop("server_version"),
        event_loop=loop,
        psycopg=f"{psycopg.__version__} ({psycopg.pq.__impl__})",
        cpus=os.cpu_count(),
        load_average=(load_before, load_average()),
        server_settings=facts,
        settings=asdict(settings),
        results=results,
    )


# -- output ------------------------------------------------------------------------


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
        parley = _find(report, "parley", n, 32)
        if parley is not None:
            checks.append(
                (
                    f"Parley, {Workload(n, 32).name} appends, concurrency 32: "
                    f">= {floor:,} events/s",
                    f"{parley.events_per_s:,.0f}",
                    parley.events_per_s >= floor,
                )
            )
    for n in (1, 100):
        r = ratio(report, n, 32)
        if r is not None:
            checks.append(
                (
                    f"Parley >= 3x eventsourcing, {Workload(n, 32).name} appends, concurrency 32",
                    f"{r:.1f}x",
                    r >= 3,
                )
            )
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
    lines += ["", *targets_lines("Targets (issue 2):", targets(report))] if targets(report) else []
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------
