"""The append workloads, and the two engines run through each of them and checked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from uuid import UUID, uuid4

import asyncpg
import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from bench import common
from bench.databases import quote, with_database
from events.catalogue import MessageSent, Side
from events.envelope import Metadata, NewEvent
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore, create_pool

TOPIC = "events.catalogue:MessageSent"
encode = msgspec.json.Encoder().encode


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


@dataclass
class CallerLog:
    """When each of one caller's appends completed, and how long it took."""

    done_at: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)

    def note(self, started: float) -> None:
        self.done_at.append(done := time.perf_counter())
        self.latency.append(done - started)


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

    def latencies(self) -> str:
        return f"{self.latency_p50_ms:.1f} / {self.latency_p99_ms:.1f}"


def new_batch(stream: Stream, n: int) -> list[NewEvent]:
    """The next ``n`` messages of a conversation, as one command would produce them."""
    cid = uuid4()  # the command's correlation id
    meta = Metadata(actor_id="client-1", actor_role="client", correlation_id=cid, causation_id=cid)
    return [
        NewEvent(
            event_id=uuid4(),
            metadata=meta,
            data=MessageSent(
                conversation_id=stream.conversation_id,
                message_id=uuid4(),
                content=common.CONTENT,
                seq=stream.version + k,
                sender=Side.CLIENT,
                sender_id="client-1",
            ),
        )
        for k in range(1, n + 1)
    ]


def turns(streams: list[Stream], stop: threading.Event) -> Iterator[Stream]:
    """A caller's streams round robin, until ``stop``."""
    i = 0
    while not stop.is_set():
        yield streams[i % len(streams)]
        i += 1


class Run:
    """One workload's callers: their streams, logs, the measured window, the result."""

    def __init__(self, wl: Workload, settings: Any) -> None:
        self.wl, self.settings, self.stop = wl, settings, threading.Event()
        streams = [Stream(uuid4()) for _ in range(settings.streams)]
        self.logs = [CallerLog() for _ in range(wl.concurrency)]
        self.callers = [(streams[i :: wl.concurrency], log) for i, log in enumerate(self.logs)]
        self.window = (0.0, 0.0)

    def events(self) -> int:
        return sum(len(log.done_at) for log in self.logs) * self.wl.events_per_append

    def measure(self) -> None:
        """Sleep through the warm-up, then note the measured window. Ends early when
        ``stop`` is set (a caller failed, or Ctrl-C)."""
        self.stop.wait(self.settings.warmup)
        start = time.perf_counter()
        base, deadline = self.events(), start + self.settings.seconds
        while not self.stop.is_set() and (now := time.perf_counter()) < deadline:
            if self.events() - base >= self.settings.max_events:
                break
            self.stop.wait(min(0.05, deadline - now))
        self.window = (start, time.perf_counter())

    def result(self, engine: str, verified: str) -> Result:
        (start, end), wl = self.window, self.wl
        latencies = [
            lat * 1000
            for log in self.logs
            for done, lat in zip(log.done_at, log.latency, strict=True)
            if start <= done <= end
        ]
        seconds, appends = max(end - start, 1e-9), len(latencies)
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
            latency_p50_ms=round(common.percentile(latencies, 50), 3),
            latency_p99_ms=round(common.percentile(latencies, 99), 3),
            verified=verified,
        )


async def run_parley(url: str, schema: str, run: Run) -> Result:
    wl, settings = run.wl, run.settings
    dsn = with_database(url, urlsplit(url).path.lstrip("/"), search_path=schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {quote(schema)}")
        await apply_migrations(conn, [EVENT_STORE_MIGRATIONS])
    finally:
        await conn.close()
    # Callers hold no connection: only the store's writers (and the checks below) do.
    pool = await create_pool(dsn, min_size=settings.writers + 1, max_size=settings.writers + 1)

    async def caller(streams: list[Stream], log_: CallerLog) -> None:
        try:
            for stream in turns(streams, run.stop):
                batch = new_batch(stream, wl.events_per_append)
                expected = stream.version if settings.track_versions else None
                started = time.perf_counter()
                result = await store.append(
                    f"conversation-{stream.conversation_id}", batch, expected
                )
                log_.note(started)
                stream.version = result.last_stream_position
        except BaseException:
            run.stop.set()
            raise

    try:
        store = PostgresEventStore(
            pool, max_batch_events=settings.max_batch_events, writers=settings.writers
        )
        callers = [asyncio.create_task(caller(*c)) for c in run.callers]
        try:
            await asyncio.to_thread(run.measure)
        finally:
            run.stop.set()
            outcomes = await asyncio.gather(*callers, return_exceptions=True)
            await store.close()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        # Everything acknowledged is stored, gapless, with contiguous streams.
        total = run.events()
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
        return run.result(
            "parley", f"{total} events stored, positions 1..{total}, streams contiguous"
        )
    finally:
        await pool.close()


def run_eventsourcing(url: str, database: str, schema: str, run: Run) -> Result:
    parts, wl = urlsplit(url), run.wl
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

    def caller(streams: list[Stream], log_: CallerLog) -> None:
        try:
            for stream in turns(streams, run.stop):
                batch = new_batch(stream, wl.events_per_append)
                stored = [
                    StoredEvent(stream.conversation_id, stream.version + k, TOPIC, encode(event))
                    for k, event in enumerate(batch, start=1)
                ]
                started = time.perf_counter()
                recorder.insert_events(stored)
                log_.note(started)
                stream.version += wl.events_per_append
        except BaseException:
            run.stop.set()
            raise

    try:
        with datastore.transaction(commit=True) as curs:
            curs.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        datastore.pool.wait()  # every connection open before the clock starts
        with ThreadPoolExecutor(wl.concurrency, thread_name_prefix="es-caller") as executor:
            futures = [executor.submit(caller, *c) for c in run.callers]
            try:
                run.measure()
            finally:
                run.stop.set()
            for future in futures:
                future.result()
        total = run.events()
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
        return run.result("eventsourcing", f"{total} events stored")
    finally:
        datastore.close()
