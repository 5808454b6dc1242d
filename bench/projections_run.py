"""One run of bench.projections: fill the log, then the parts asked for."""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any
from uuid import uuid4

import asyncpg

from bench.common import log, machine_busy, python_version
from bench.databases import throwaway_database
from bench.projections_live import part_live
from bench.projections_relay import APPEND_SIZE, CONTENT, Streams, connect_nats, part_relay
from bench.projections_report import RebuildResult, Report
from commands.model import stream_id_for
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent
from events.postgres.migrate import EVENT_STORE_MIGRATIONS
from events.postgres.store import PostgresEventStore, create_pool
from projections import READ_MODEL_MIGRATIONS
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.timeline import TimelineProjection

MIGRATIONS = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]  # as `parley migrate` applies them
CONVERSATIONS_PER_50K = 100


async def fill(store: PostgresEventStore, events: int, conversations: int) -> None:
    """Append ``events`` events over ``conversations`` new conversations: each a
    ConversationStarted then MessageSent in ``APPEND_SIZE``-event appends,
    every conversation appending concurrently (so appends group-commit)."""
    base, extra = divmod(events, conversations)
    sizes = [base + (1 if k < extra else 0) for k in range(conversations)]

    async def conversation(size: int) -> None:
        cid = uuid4()
        client = f"client-{cid.hex[:8]}"
        stream = stream_id_for(cid)
        started = ConversationStarted(
            conversation_id=cid,
            client=Client(id=client, name=f"Bulk {cid.hex[:4]}"),
            channel=Channel.WEB,
            priority=Priority.MEDIUM,
            status=Status.ACTIVE,
        )
        admin = Metadata(actor_id="alice", actor_role="admin")
        await store.append(stream, [NewEvent(event_id=uuid4(), data=started, metadata=admin)], 0)
        seq = 0
        while seq < size - 1:
            batch = []
            for s in range(seq + 1, min(size - 1, seq + APPEND_SIZE) + 1):
                sender = Side.CLIENT if s % 2 else Side.ADMIN
                sender_id = client if sender is Side.CLIENT else "alice"
                batch.append(
                    NewEvent(
                        event_id=uuid4(),
                        data=MessageSent(
                            conversation_id=cid,
                            message_id=uuid4(),
                            seq=s,
                            sender=sender,
                            sender_id=sender_id,
                            content=CONTENT,
                        ),
                        metadata=Metadata(actor_id=sender_id, actor_role=str(sender)),
                    )
                )
            await store.append(stream, batch, expected_version=seq + 1)
            seq += len(batch)

    await asyncio.gather(*(conversation(size) for size in sizes if size > 0))


async def part_rebuild(pool: asyncpg.Pool, store: PostgresEventStore, report: Report) -> None:
    head = await store.head_position()
    for projection in (InboxProjection(), TimelineProjection()):
        started = time.perf_counter()
        position = await rebuild(pool, store, projection)
        seconds = time.perf_counter() - started
        if position != head:
            raise RuntimeError(f"rebuild {projection.name} reached {position}, head is {head}")
        rows = {t: int(await pool.fetchval(f"SELECT count(*) FROM {t}")) for t in projection.tables}
        report.rebuild.append(
            RebuildResult(
                projection=projection.name,
                events=head,
                seconds=round(seconds, 3),
                events_per_s=round(head / seconds, 1),
                rows=rows,
            )
        )
        log(f"  rebuild {projection.name}: {head / seconds:,.0f} events/s ({seconds:.2f} s) {rows}")
    messages = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'MessageSent'")
    if report.rebuild[-1].rows["messages"] != messages:
        raise RuntimeError("rebuilt timeline is missing messages")


async def run(args: Any, argv: Sequence[str]) -> Report:
    began = time.perf_counter()
    parts = set(args.parts)
    prefix = f"benchproj{secrets.token_hex(3)}"
    async with (
        throwaway_database(args.database_url, "bench_projections", MIGRATIONS) as (
            url,
            facts,
        ),
        connect_nats(args.nats_url) as nc,
    ):
        report = Report(
            date=datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            command=shlex.join(["python", "-m", "bench.projections", *argv]),
            cpus=os.cpu_count() or 0,
            load_average=[round(x, 2) for x in os.getloadavg()],
            python=python_version(),
            loop=args.loop,
            versions={p: version(p) for p in ("nats-py", "asyncpg", "msgspec", "uvloop")},
            postgresql=facts,
            nats_server=str(nc.connected_server_version),
            settings={
                "events": args.events,
                "rebuild_events": args.rebuild_events,
                "rounds": args.rounds,
                "raw_variants": list(args.raw_variants),
                "rate": args.rate,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "conversations": args.conversations,
                "parts": sorted(parts),
                "nats_prefix": prefix,
            },
        )
        streams = Streams(nc, prefix)
        pool = await create_pool(url, min_size=4, max_size=12)
        store = PostgresEventStore(pool)
        try:
            target = args.events if "relay" in parts else 0
            if "rebuild" in parts or "live" in parts:
                target = max(target, args.rebuild_events if "rebuild" in parts else 1000)
            first = args.events if "relay" in parts else target
            started = time.perf_counter()
            await fill(store, first, max(1, first * CONVERSATIONS_PER_50K // 50_000))
            seconds = time.perf_counter() - started
            report.fill["events"] = first
            report.fill["events_per_s"] = round(first / seconds, 1)
            log(f"log filled: {first:,} events at {first / seconds:,.0f} events/s")
            if "relay" in parts:
                log("(a) relay vs raw JetStream publishing")
                with machine_busy(report.machine_cpu_percent, "relay"):
                    await part_relay(args, pool, store, streams, report)
            if target > first:
                more = target - first
                started = time.perf_counter()
                await fill(store, more, max(1, more * CONVERSATIONS_PER_50K // 50_000))
                log(f"log extended by {more:,} events in {time.perf_counter() - started:.1f} s")
            if "rebuild" in parts:
                log(f"(b) rebuild over {await store.head_position():,} events")
                with machine_busy(report.machine_cpu_percent, "rebuild"):
                    await part_rebuild(pool, store, report)
            if "live" in parts:
                log("(c) live lag, workers: a parley worker process")
                with machine_busy(report.machine_cpu_percent, "live"):
                    await part_live(args, url, pool, store, streams, report)
        finally:
            await store.close()
            await pool.close()
            await streams.delete_all()
    report.total_seconds = round(time.perf_counter() - began, 1)
    report.load_average_end = [round(x, 2) for x in os.getloadavg()]
    return report
