"""Event store appends: Parley's PostgresEventStore against the eventsourcing
library's PostgreSQL recorder, on the same server, in the same run.

Run from the repository root (either form works)::

    .venv/bin/python -m bench.append
    .venv/bin/python bench/append.py --seconds 5 --json

Workloads: appends of 1 and of 100 ``MessageSent`` events (~200 B of content
each) at concurrency 1 and 32, spread over 1,000 conversation streams. Every
append is its own caller waiting for its own durable commit: Parley's callers
are asyncio tasks sharing one store (which groups concurrent appends into
shared transactions); the eventsourcing recorder is synchronous, so its callers
are threads, each with its own pooled connection and one ``insert_events`` call
per append. Each caller owns its streams and tracks their versions, so appends
never conflict; Parley gets the tracked ``expected_version`` (``--any-version``
passes ``None``), eventsourcing the matching ``originator_version``.

Each workload warms up, then is measured for ``--seconds`` (or until
``--max-events``), starting on empty tables: a fresh schema in one of two
throwaway databases (one per library) that are dropped at the end, also on
Ctrl-C or an error. The script leaves ``synchronous_commit`` and ``fsync`` as
the server has them and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit
from uuid import UUID, uuid4

import asyncpg
import msgspec
import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from bench.databases import log, quote, with_database
from events.catalogue import MessageSent, Side
from events.envelope import Metadata, NewEvent
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore, create_pool

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# 200 characters: a typical customer message.
CONTENT = (
    "Hi, I ordered running shoes last Tuesday (order 48213) and the tracking page "
    "still says 'label created' after five days. Could you check with the courier "
    "and tell me when they will arrive? Thanks, Jo!"
)
assert len(CONTENT) == 200
TOPIC = "events.catalogue:MessageSent"
_encode = msgspec.json.Encoder().encode

T = TypeVar("T")


# -- workloads and results -----------------------------------------------------


@dataclass(frozen=True)
class Workload:
    events_per_append: int
    concurrency: int

    @property
    def name(self) -> str:
        return "single-event" if self.events_per_append == 1 else f"{self.events_per_append}-event"


@dataclass
class Stream:
    """One conversation stream, owned by exactly one caller."""

    conversation_id: UUID
    version: int = 0

    @property
    def stream_id(self) -> str:
        return f"conversation-{self.conversation_id}"


@dataclass
class CallerLog:
    """When each of one caller's appends completed, and how long it took."""

    done_at: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)


@dataclass
class Result:
    engine: str
    workload: str
    events_per_append: int
    concurrency: int
    seconds: float
    appends: int
    events: int
    events_per_s: float
    appends_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    verified: str


@dataclass(frozen=True)
class Settings:
    seconds: float
    warmup: float
    max_events: int
    streams: int
    track_versions: bool
    writers: int
    max_batch_events: int


def new_batch(stream: Stream, n: int) -> list[NewEvent]:
    """The next ``n`` messages of a conversation, as one command would produce them."""
    correlation = uuid4()
    metadata = Metadata(
        actor_id="client-1",
        actor_role="client",
        correlation_id=correlation,
        causation_id=correlation,
    )
    return [
        NewEvent(
            event_id=uuid4(),
            data=MessageSent(
                conversation_id=stream.conversation_id,
                message_id=uuid4(),
                seq=stream.version + k,
                sender=Side.CLIENT,
                sender_id="client-1",
                content=CONTENT,
            ),
            metadata=metadata,
        )
        for k in range(1, n + 1)
    ]


def split_streams(count: int, callers: int) -> list[list[Stream]]:
    streams = [Stream(uuid4()) for _ in range(count)]
    return [streams[i::callers] for i in range(callers)]


def _completed(logs: Sequence[CallerLog]) -> int:
    return sum(len(log.done_at) for log in logs)


def wait_window(
    logs: Sequence[CallerLog], wl: Workload, settings: Settings, stop: threading.Event
) -> tuple[float, float]:
    """Sleep through the warm-up, then return the measured window (start, end).
    Ends early when ``stop`` is set (a caller failed, or Ctrl-C)."""
    stop.wait(settings.warmup)
    start = time.perf_counter()
    base = _completed(logs)
    deadline = start + settings.seconds
    while not stop.is_set():
        now = time.perf_counter()
        if now >= deadline:
            break
        if (_completed(logs) - base) * wl.events_per_append >= settings.max_events:
            break
        stop.wait(min(0.05, deadline - now))
    return start, time.perf_counter()


def summarise(
    engine: str,
    wl: Workload,
    logs: Sequence[CallerLog],
    window: tuple[float, float],
    verified: str,
) -> Result:
    start, end = window
    latencies = sorted(
        lat
        for log in logs
        for done, lat in zip(log.done_at, log.latency, strict=True)
        if start <= done <= end
    )
    seconds = max(end - start, 1e-9)
    appends = len(latencies)

    def quantile(q: float) -> float:
        return latencies[min(appends - 1, int(appends * q))] * 1000 if appends else float("nan")

    return Result(
        engine=engine,
        workload=wl.name,
        events_per_append=wl.events_per_append,
        concurrency=wl.concurrency,
        seconds=round(seconds, 3),
        appends=appends,
        events=appends * wl.events_per_append,
        events_per_s=round(appends * wl.events_per_append / seconds, 1),
        appends_per_s=round(appends / seconds, 1),
        latency_p50_ms=round(quantile(0.50), 3),
        latency_p99_ms=round(quantile(0.99), 3),
        verified=verified,
    )


# -- Parley ----------------------------------------------------------------------


async def _parley_caller(
    store: PostgresEventStore,
    streams: list[Stream],
    wl: Workload,
    log_: CallerLog,
    track_versions: bool,
    stop: threading.Event,
) -> None:
    try:
        i = 0
        while not stop.is_set():
            stream = streams[i % len(streams)]
            i += 1
            batch = new_batch(stream, wl.events_per_append)
            expected = stream.version if track_versions else None
            started = time.perf_counter()
            result = await store.append(stream.stream_id, batch, expected)
            done = time.perf_counter()
            log_.done_at.append(done)
            log_.latency.append(done - started)
            stream.version = result.last_stream_position
    except BaseException:
        stop.set()
        raise


async def run_parley(url: str, schema: str, wl: Workload, settings: Settings) -> Result:
    dsn = with_database(url, urlsplit(url).path.lstrip("/"), search_path=schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {quote(schema)}")
        await apply_migrations(conn, [EVENT_STORE_MIGRATIONS])
    finally:
        await conn.close()
    # Callers hold no connection: only the store's writers (and the checks below) do.
    pool_size = settings.writers + 1
    pool = await create_pool(dsn, min_size=pool_size, max_size=pool_size)
    try:
        store = PostgresEventStore(
            pool, max_batch_events=settings.max_batch_events, writers=settings.writers
        )
        logs = [CallerLog() for _ in range(wl.concurrency)]
        stop = threading.Event()
        callers = [
            asyncio.create_task(
                _parley_caller(store, streams, wl, log_, settings.track_versions, stop)
            )
            for streams, log_ in zip(
                split_streams(settings.streams, wl.concurrency), logs, strict=True
            )
        ]
        try:
            window = await asyncio.to_thread(wait_window, logs, wl, settings, stop)
        finally:
            stop.set()
            outcomes = await asyncio.gather(*callers, return_exceptions=True)
            await store.close()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

        # Everything acknowledged is stored, gapless, with contiguous streams.
        total = _completed(logs) * wl.events_per_append
        row = await pool.fetchrow(
            """
            SELECT (SELECT count(*) FROM events) AS events,
                   (SELECT coalesce(max(global_position), 0) FROM events) AS head,
                   (SELECT count(*) FROM (
                        SELECT stream_id FROM events GROUP BY stream_id
                        HAVING max(stream_position) <> count(*)) AS s) AS broken_streams
            """
        )
        assert row is not None
        if not (row["events"] == row["head"] == total and row["broken_streams"] == 0):
            raise RuntimeError(f"Parley check failed: {dict(row)}, expected {total} events")
        verified = f"{total} events stored, positions 1..{total}, streams contiguous"
        return summarise("parley", wl, logs, window, verified)
    finally:
        await pool.close()


# -- eventsourcing -------------------------------------------------------------------


def _es_caller(
    recorder: PostgresApplicationRecorder,
    streams: list[Stream],
    wl: Workload,
    log_: CallerLog,
    stop: threading.Event,
) -> None:
    try:
        i = 0
        while not stop.is_set():
            stream = streams[i % len(streams)]
            i += 1
            stored = [
                StoredEvent(
                    originator_id=stream.conversation_id,
                    originator_version=stream.version + k,
                    topic=TOPIC,
                    state=_encode(event),
                )
                for k, event in enumerate(new_batch(stream, wl.events_per_append), start=1)
            ]
            started = time.perf_counter()
            recorder.insert_events(stored)
            done = time.perf_counter()
            log_.done_at.append(done)
            log_.latency.append(done - started)
            stream.version += wl.events_per_append
    except BaseException:
        stop.set()
        raise


def run_eventsourcing(
    url: str, database: str, schema: str, wl: Workload, settings: Settings, stop: threading.Event
) -> Result:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    datastore = PostgresDatastore(
        dbname=database,
        host=query.get("host") or parts.hostname or "127.0.0.1",
        port=query.get("port") or parts.port or 5432,
        user=unquote(parts.username or query.get("user", "postgres")),
        password=unquote(parts.password or query.get("password", "")),
        pool_size=wl.concurrency,  # one connection per caller thread
        schema=schema,
    )
    try:
        with datastore.transaction(commit=True) as curs:
            curs.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        datastore.pool.wait()  # every connection open before the clock starts

        logs = [CallerLog() for _ in range(wl.concurrency)]
        with ThreadPoolExecutor(wl.concurrency, thread_name_prefix="es-caller") as executor:
            futures = [
                executor.submit(_es_caller, recorder, streams, wl, log_, stop)
                for streams, log_ in zip(
                    split_streams(settings.streams, wl.concurrency), logs, strict=True
                )
            ]
            try:
                window = wait_window(logs, wl, settings, stop)
            finally:
                stop.set()
            for future in futures:
                future.result()

        total = _completed(logs) * wl.events_per_append
        with datastore.transaction() as curs:
            curs.execute(
                SQL(
                    "SELECT (SELECT count(*) FROM {table}) AS events, "
                    "(SELECT count(*) FROM (SELECT originator_id FROM {table}"
                    " GROUP BY originator_id HAVING max(originator_version) <> count(*)) AS s)"
                    " AS broken_streams"
                ).format(table=Identifier(schema, recorder.events_table_name))
            )
            row = curs.fetchone()
        assert row is not None
        if not (row["events"] == total and row["broken_streams"] == 0):
            raise RuntimeError(f"eventsourcing check failed: {row}, expected {total} events")
        return summarise("eventsourcing", wl, logs, window, f"{total} events stored")
    finally:
        datastore.close()


async def run_eventsourcing_async(
    url: str, database: str, schema: str, wl: Workload, settings: Settings
) -> Result:
    stop = threading.Event()
    try:
        return await asyncio.to_thread(run_eventsourcing, url, database, schema, wl, settings, stop)
    finally:
        stop.set()  # on Ctrl-C, let the caller threads finish


# -- the run ---------------------------------------------------------------------------


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


async def _drop_databases(url: str, names: Sequence[str]) -> None:
    conn = await asyncpg.connect(url)
    try:
        for name in names:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def run(
    url: str,
    workloads: Sequence[Workload],
    engines: Sequence[str],
    settings: Settings,
    event_loop: str,
) -> Report:
    load_before = os.getloadavg()[0]
    suffix = uuid4().hex[:8]
    parley_db, es_db = f"bench_parley_{suffix}", f"bench_eventsourcing_{suffix}"
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(f"cannot connect to --database-url {url}: {error}") from None
    try:
        version = await conn.fetchval("SHOW server_version")
        server_settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")
        }
    finally:
        await conn.close()

    results: list[Result] = []
    created: list[str] = []
    try:
        conn = await asyncpg.connect(url)
        try:
            for name in (parley_db, es_db):
                await conn.execute(f"CREATE DATABASE {quote(name)}")
                created.append(name)
        finally:
            await conn.close()
        log(f"databases {parley_db}, {es_db} on {urlsplit(url).hostname}")
        for number, wl in enumerate(workloads, start=1):
            schema = f"w{number}_{wl.events_per_append}x{wl.concurrency}"
            if "parley" in engines:
                log(f"{wl.name} appends, concurrency {wl.concurrency}: Parley ...")
                result = await run_parley(with_database(url, parley_db), schema, wl, settings)
                results.append(result)
                log(f"  {result.events_per_s:,.0f} events/s ({result.verified})")
            if "eventsourcing" in engines:
                log(f"{wl.name} appends, concurrency {wl.concurrency}: eventsourcing ...")
                result = await run_eventsourcing_async(url, es_db, schema, wl, settings)
                results.append(result)
                log(f"  {result.events_per_s:,.0f} events/s ({result.verified})")
    finally:
        if created:
            await _drop_databases(url, created)
            log(f"dropped {', '.join(created)}")

    return Report(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        command=shlex.join(sys.orig_argv),
        python=platform.python_version(),
        postgresql=str(version),
        event_loop=event_loop,
        psycopg=f"{psycopg.__version__} ({psycopg.pq.__impl__})",
        cpus=os.cpu_count(),
        load_average=(round(load_before, 2), round(os.getloadavg()[0], 2)),
        server_settings=server_settings,
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


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return (
        "| "
        + " | ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        + " |"
    )


def render_table(report: Report) -> str:
    header = [
        "workload",
        "concurrency",
        "Parley events/s",
        "eventsourcing events/s",
        "ratio",
        "Parley p50 / p99 ms",
        "eventsourcing p50 / p99 ms",
    ]
    rows: list[list[str]] = []
    keys = dict.fromkeys((r.events_per_append, r.concurrency, r.workload) for r in report.results)
    for n, concurrency, name in keys:
        parley = _find(report, "parley", n, concurrency)
        es = _find(report, "eventsourcing", n, concurrency)
        r = ratio(report, n, concurrency)

        def rate(x: Result | None) -> str:
            return "-" if x is None else f"{x.events_per_s:,.0f}"

        def lat(x: Result | None) -> str:
            return "-" if x is None else f"{x.latency_p50_ms:.1f} / {x.latency_p99_ms:.1f}"

        rows.append(
            [
                f"{name} appends",
                str(concurrency),
                rate(parley),
                rate(es),
                "-" if r is None else f"{r:.1f}x",
                lat(parley),
                lat(es),
            ]
        )
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    separator = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([_row(header, widths), separator, *(_row(row, widths) for row in rows)])


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
    checks = targets(report)
    if checks:
        lines += ["", "Targets (issue 2):"]
        lines += [
            f"  {'met   ' if met else 'MISSED'}  {target}: {measured}"
            for target, measured, met in checks
        ]
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.append",
        description="Appended events/s: Parley's event store vs eventsourcing's recorder.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PARLEY_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="a server where this script may create and drop databases "
        "(default: $PARLEY_DATABASE_URL, else %(default)s)",
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument(
        "--max-events", type=int, default=1_000_000, help="end a run early after this many"
    )
    parser.add_argument("--streams", type=int, default=1000, help="conversation streams")
    parser.add_argument("--batch-sizes", type=_int_list, default=[1, 100], metavar="N,N")
    parser.add_argument("--concurrency", type=_int_list, default=[1, 32], metavar="N,N")
    parser.add_argument(
        "--engines",
        type=lambda text: text.split(","),
        default=["parley", "eventsourcing"],
        metavar="parley,eventsourcing",
    )
    parser.add_argument(
        "--any-version",
        action="store_true",
        help="append with expected_version=None instead of the tracked version",
    )
    parser.add_argument("--writers", type=int, default=2, help="PostgresEventStore writers")
    parser.add_argument(
        "--max-batch-events", type=int, default=2000, help="PostgresEventStore group-commit bound"
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop for Parley (default uvloop, as uvicorn[standard] runs the app)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    unknown = set(args.engines) - {"parley", "eventsourcing"}
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return args


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def _run_main(coro: Coroutine[Any, Any, T], loop: str) -> T:
    with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
        return runner.run(coro)


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
        report = _run_main(
            run(args.database_url, workloads, args.engines, settings, args.loop), args.loop
        )
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    if args.json:
        data = asdict(report)
        data["ratios"] = {
            f"{n}x{c}": ratio(report, n, c) for n in args.batch_sizes for c in args.concurrency
        }
        data["targets"] = [
            {"target": t, "measured": m, "met": met} for t, m, met in targets(report)
        ]
        print(json.dumps(data, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
