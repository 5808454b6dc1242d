"""The append workloads, and the two engines run through each of them and checked."""

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import asyncpg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.conninfo import conninfo_to_dict
from psycopg.sql import SQL, Identifier

from bench import common
from bench import databases as db
from events.catalogue import Side
from events.envelope import Metadata, NewEvent
from events.postgres.keys import ClientKeys
from events.postgres.master_keys import MasterKey
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore, create_pool

TOPIC = "events.catalogue:MessageSent"
# Everything acknowledged is stored, gapless, with contiguous streams.
PARLEY_CHECK = """SELECT count(*) AS events, coalesce(max(global_position), 0) AS head,
    (SELECT count(*) FROM (SELECT FROM events GROUP BY stream_id
     HAVING max(stream_position) <> count(*)) AS s) AS broken_streams FROM events"""
ES_CHECK = """SELECT count(*) AS events, (SELECT count(*) FROM (SELECT FROM {table}
    GROUP BY originator_id HAVING max(originator_version) <> count(*)) AS s) AS broken_streams
    FROM {table}"""


def workload(n: int) -> str:
    return "single-event" if n == 1 else f"{n}-event"


@dataclass
class Stream:
    """One conversation stream, owned by exactly one caller."""

    conversation_id: UUID
    version: int = 0


def new_batch(stream: Stream, n: int) -> list[NewEvent]:
    """The next ``n`` messages of a conversation (one client each), as one command makes them."""
    cid, client = uuid4(), f"client-{stream.conversation_id}"  # the command's correlation id
    meta = Metadata(actor_id="client-1", actor_role="client", correlation_id=cid, causation_id=cid)
    sent = [(stream.version + k, Side.CLIENT, "client-1", common.CONTENT) for k in range(1, n + 1)]
    return [db.new(db.sent(stream.conversation_id, *m), meta, client) for m in sent]


class Run:
    """One workload's callers, their streams and logs (done, seconds), the measured window."""

    def __init__(self, n: int, concurrency: int, settings: Any) -> None:
        self.n, self.concurrency, self.settings = n, concurrency, settings
        self.stop, self.window = threading.Event(), (0.0, 0.0)
        self.cpu = (0.0, 0.0)  # CPU seconds in the window: this process, PostgreSQL
        self.streams = [Stream(uuid4()) for _ in range(settings.streams)]
        self.logs: list[list[tuple[float, float]]] = [[] for _ in range(concurrency)]
        self.callers = [(self.streams[i::concurrency], log) for i, log in enumerate(self.logs)]

    def turns(self, streams: list[Stream]) -> Iterator[tuple[Stream, list[NewEvent]]]:
        """A caller's streams round robin with their next batch, until ``stop``."""
        i = 0
        while not self.stop.is_set():
            yield streams[i % len(streams)], new_batch(streams[i % len(streams)], self.n)
            i += 1

    def events(self) -> int:
        return sum(len(log) for log in self.logs) * self.n

    def measure(self) -> None:
        """Sleep through the warm-up (``warmup`` seconds, and until every stream
        has its first append: a client's first personal event makes its data
        key, once in its life, not once per window), then note the measured
        window (ends early on ``stop``)."""
        self.stop.wait(self.settings.warmup)
        while not self.stop.is_set() and not all(s.version for s in self.streams):
            self.stop.wait(0.05)
        start, cpu = time.perf_counter(), common.cpu_seconds()
        base, deadline = self.events(), start + self.settings.seconds
        while not self.stop.is_set() and (now := time.perf_counter()) < deadline:
            if self.events() - base >= self.settings.max_events:
                break
            self.stop.wait(min(0.05, deadline - now))
        self.window = (start, time.perf_counter())
        mine, postgres = common.cpu_seconds()
        self.cpu = (mine - cpu[0], postgres - cpu[1])

    def result(self, engine: str, verified: str) -> dict[str, Any]:
        (start, end), n = self.window, self.n
        ms = [lat * 1000 for log in self.logs for done, lat in log if start <= done <= end]
        seconds, appends = max(end - start, 1e-9), len(ms)
        result = {"engine": engine, "workload": workload(n), "events_per_append": n}
        result |= {"concurrency": self.concurrency, "seconds": round(seconds, 3)}
        result |= {"appends": appends, "events": appends * n}
        result |= {"events_per_s": round(appends * n / seconds, 1)}
        result |= {"appends_per_s": round(appends / seconds, 1)}
        result |= {f"latency_p{q}_ms": round(common.percentile(ms, q), 3) for q in (50, 99)}
        events = max(appends * n, 1)  # CPU per event in the window: where the time goes
        result |= {"python_us_per_event": round(self.cpu[0] / events * 1e6, 1)}
        result |= {"postgres_us_per_event": round(self.cpu[1] / events * 1e6, 1)}
        return result | {"verified": verified}


class Engine(NamedTuple):
    """What one of Parley's stores has: the hash chain (migration 006, and
    008: documents kept as json), personal data sealed with one key per
    client (007), documents as json rather than jsonb (without the chain:
    migrations 001-005 so rewritten, the baseline for 008's own share)."""

    chain: bool
    sealed: bool
    json: bool


PARLEY_ENGINES = {
    "parley": Engine(chain=True, sealed=True, json=True),
    "parley-bare": Engine(chain=False, sealed=False, json=False),
    "parley-bare-json": Engine(chain=False, sealed=False, json=True),
    "parley-chain": Engine(chain=True, sealed=False, json=True),
    "parley-sealed": Engine(chain=False, sealed=True, json=False),
}


async def run_parley(url: str, schema: str, run: Run, engine: str) -> dict[str, Any]:
    """Parley's store as ``engine`` (:data:`PARLEY_ENGINES`) has it."""
    settings, kind = run.settings, PARLEY_ENGINES[engine]
    dsn = db.with_database(url, urlsplit(url).path.lstrip("/"), search_path=schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {db.quote(schema)}")
        if kind.chain:
            await apply_migrations(conn, [EVENT_STORE_MIGRATIONS])
        else:  # migrations 001-005 (no hash chain), and the data keys' tables if sealed
            for migration in sorted(EVENT_STORE_MIGRATIONS.glob("00*.sql")):
                if migration.name < "006" or (kind.sealed and migration.name.startswith("007")):
                    sql = migration.read_text()
                    await conn.execute(sql.replace("jsonb", "json") if kind.json else sql)
    finally:
        await conn.close()
    # Callers hold no connection: only the store's writers (and the checks below) do.
    pool = await create_pool(dsn, min_size=settings.writers + 2, max_size=settings.writers + 2)

    async def caller(streams: list[Stream], log: list[tuple[float, float]]) -> None:
        try:
            for stream, batch in run.turns(streams):
                expected = stream.version if settings.track_versions else None
                started = time.perf_counter()
                stream_id = f"conversation-{stream.conversation_id}"
                result = await store.append(stream_id, batch, expected)
                log.append(((done := time.perf_counter()), done - started))
                stream.version = result.last_stream_position
        except BaseException:
            run.stop.set()
            raise

    try:
        batch, writers = settings.max_batch_events, settings.writers
        keys = ClientKeys(pool, MasterKey(bytes(32))) if kind.sealed else None
        store = PostgresEventStore(pool, max_batch_events=batch, writers=writers, keys=keys)
        callers = [asyncio.create_task(caller(*c)) for c in run.callers]
        try:
            await asyncio.to_thread(run.measure)
        finally:
            run.stop.set()
            outcomes = await asyncio.gather(*callers, return_exceptions=True)
            await store.close()
        if failed := [outcome for outcome in outcomes if isinstance(outcome, BaseException)]:
            raise failed[0]
        row, total = await pool.fetchrow(PARLEY_CHECK), run.events()
        assert row is not None
        if not (row["events"] == row["head"] == total and row["broken_streams"] == 0):
            raise RuntimeError(f"Parley check failed: {dict(row)}, expected {total} events")
        stored = f"{total} events stored, positions 1..{total}, streams contiguous"
        return run.result(engine, stored)
    finally:
        await pool.close()


def run_eventsourcing(url: str, schema: str, run: Run) -> dict[str, Any]:
    server: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": ""}
    server |= conninfo_to_dict(url)
    where = [server[k] for k in ("dbname", "host", "port", "user", "password")]
    # one connection per caller thread
    datastore = PostgresDatastore(*where, pool_size=run.concurrency, schema=schema)

    def caller(streams: list[Stream], log: list[tuple[float, float]]) -> None:
        try:
            for stream, batch in run.turns(streams):
                cid, v, encoded = stream.conversation_id, stream.version, map(db.encode, batch)
                stored = [StoredEvent(cid, v + k, TOPIC, e) for k, e in enumerate(encoded, 1)]
                started = time.perf_counter()
                recorder.insert_events(stored)
                log.append(((done := time.perf_counter()), done - started))
                stream.version += run.n
        except BaseException:
            run.stop.set()
            raise

    try:
        with datastore.transaction(commit=True) as curs:
            curs.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        datastore.pool.wait()  # every connection open before the clock starts
        with ThreadPoolExecutor(run.concurrency, thread_name_prefix="es-caller") as executor:
            futures = [executor.submit(caller, *c) for c in run.callers]
            try:
                run.measure()
            finally:
                run.stop.set()
            for future in futures:
                future.result()
        total, table = run.events(), Identifier(schema, recorder.events_table_name)
        with datastore.transaction() as curs:
            curs.execute(SQL(ES_CHECK).format(table=table))
            row = curs.fetchone()
        assert row is not None
        if not (row["events"] == total and row["broken_streams"] == 0):
            raise RuntimeError(f"eventsourcing check failed: {row}, expected {total} events")
        return run.result("eventsourcing", f"{total} events stored")
    finally:
        datastore.close()
