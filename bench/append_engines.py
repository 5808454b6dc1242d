"""The two engines under test, each run through each workload and checked."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg
import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from bench.append_workload import (
    TOPIC,
    CallerLog,
    Result,
    Settings,
    Stream,
    Workload,
    completed,
    encode,
    new_batch,
    split_streams,
    summarise,
    wait_window,
)
from bench.common import command_line, load_average, log, now_utc, python_version
from bench.databases import quote, throwaway_database, with_database
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore, create_pool


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
        total = completed(logs) * wl.events_per_append
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
                    state=encode(event),
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

        total = completed(logs) * wl.events_per_append
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
