"""One run of bench.projections: fill the log, then the parts asked for."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from importlib.metadata import version
from typing import Any
from uuid import uuid4

import asyncpg

from bench import common
from bench import databases as db
from bench.databases import event_store, throwaway_database, throwaway_streams
from bench.projections_live import part_live
from bench.projections_relay import part_relay
from commands.model import stream_id_for
from events.postgres.migrate import EVENT_STORE_MIGRATIONS
from events.postgres.store import PostgresEventStore
from projections import READ_MODEL_MIGRATIONS
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.timeline import TimelineProjection

NOT_SETTINGS = ("json", "loop", "database_url", "nats_url")
MIGRATIONS = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]  # as `parley migrate` applies them


async def fill(store: PostgresEventStore, events: int) -> float:
    """Append ``events`` events over new conversations (100 per 50,000 events): each a
    ConversationStarted then MessageSent in 100-event appends, every conversation
    appending concurrently (so appends group-commit). Returns events/s."""
    conversations = max(1, events * 100 // 50_000)
    base, extra = divmod(events, conversations)

    async def conversation(size: int) -> None:
        cid = uuid4()
        client, stream = f"client-{cid.hex[:8]}", stream_id_for(cid)
        events = db.conversation(cid, client, f"Bulk {cid.hex[:4]}", size - 1, common.CONTENT)
        await store.append(stream, [next(events)], 0)
        for first in range(1, size, 100):
            await store.append(stream, list(itertools.islice(events, 100)), expected_version=first)

    started = time.perf_counter()
    sizes = [base + (1 if k < extra else 0) for k in range(conversations)]
    await asyncio.gather(*(conversation(size) for size in sizes if size > 0))
    return events / (time.perf_counter() - started)


async def part_rebuild(pool: asyncpg.Pool, store: PostgresEventStore) -> list[dict[str, Any]]:
    head, results = await store.head_position(), []
    for projection in (InboxProjection(), TimelineProjection()):
        started = time.perf_counter()
        position = await rebuild(pool, store, projection)
        seconds = time.perf_counter() - started
        if position != head:
            raise RuntimeError(f"rebuild {projection.name} reached {position}, head is {head}")
        rows = {t: int(await pool.fetchval(f"SELECT count(*) FROM {t}")) for t in projection.tables}
        result: dict[str, Any] = {"projection": projection.name, "events": head}
        result |= {"seconds": round(seconds, 3), "events_per_s": round(head / seconds, 1)}
        results.append(result | {"rows": rows})
        common.log(
            f"  rebuild {projection.name}: {head / seconds:,.0f} events/s ({seconds:.2f} s) {rows}"
        )
    messages = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'MessageSent'")
    if results[-1]["rows"]["messages"] != messages:
        raise RuntimeError("rebuilt timeline is missing messages")
    return results


async def run(args: Any) -> dict[str, Any]:
    began, parts = time.perf_counter(), set(args.parts)
    prefix = f"benchproj{secrets.token_hex(3)}"
    async with (
        throwaway_database(args.database_url, "bench_projections", MIGRATIONS) as (url, facts),
        throwaway_streams(args.nats_url, prefix) as streams,
        event_store(url, 4, 12) as (pool, store),
    ):
        report: dict[str, Any] = {**common.facts(), "load_average": common.load_average()}
        report["loop"] = args.loop
        report["versions"] = {p: version(p) for p in ("nats-py", "asyncpg", "msgspec", "uvloop")}
        report |= {"postgresql": facts, "nats_server": str(streams.nc.connected_server_version)}
        report["settings"] = {k: v for k, v in vars(args).items() if k not in NOT_SETTINGS}
        report["settings"] |= {"parts": sorted(parts), "nats_prefix": prefix}
        report |= {"fill": {}, "relay": [], "rebuild": [], "live": None, "machine_cpu_percent": {}}
        cpu = report["machine_cpu_percent"]
        target = args.events if "relay" in parts else 0
        if "rebuild" in parts or "live" in parts:
            target = max(target, args.rebuild_events if "rebuild" in parts else 1000)
        first = args.events if "relay" in parts else target
        rate = round(await fill(store, first), 1)
        report["fill"] = {"events": first, "events_per_s": rate}
        common.log(f"log filled: {first:,} events at {rate:,.0f} events/s")
        if "relay" in parts:
            common.log("(a) relay vs raw JetStream publishing")
            with common.machine_busy(cpu, "relay"):
                report["relay"] = await part_relay(args, pool, store, streams)
        if target > first:
            started = time.perf_counter()
            await fill(store, target - first)
            seconds = time.perf_counter() - started
            common.log(f"log extended by {target - first:,} events in {seconds:.1f} s")
        if "rebuild" in parts:
            common.log(f"(b) rebuild over {await store.head_position():,} events")
            with common.machine_busy(cpu, "rebuild"):
                report["rebuild"] = await part_rebuild(pool, store)
        if "live" in parts:
            common.log("(c) live lag, workers: a parley worker process")
            with common.machine_busy(cpu, "live"):
                report["live"] = await part_live(args, url, pool, store, streams)
    report["load_average_end"] = common.load_average()
    report["total_seconds"] = round(time.perf_counter() - began, 1)
    return report
