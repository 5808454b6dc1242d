"""One run of bench.projections: fill the log, (a) relay vs raw publishing, (b) rebuild."""

import asyncio
import itertools
import secrets
import time
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bench import common
from bench import databases as db
from bench.projections_live import part_live
from commands.model import stream_id_for
from events.envelope import RecordedEvent
from events.jetstream.relay import JetStreamRelay, Topology, ensure_stream
from events.postgres.store import PostgresEventStore
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.timeline import TimelineProjection

NOT_SETTINGS = ("json", "loop", "database_url", "nats_url")
RAW_VARIANTS, REFERENCE_VARIANT = ("gather500", "publish_async", "window500"), "gather500"
Envelope = tuple[str, bytes, str]  # subject, payload, Nats-Msg-Id


async def fill(store: PostgresEventStore, events: int) -> float:
    """Append ``events`` events, 100 at a time over concurrent conversations: events/s."""
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


async def run_relay(
    store: PostgresEventStore, pool: asyncpg.Pool, nc: NATS, topology: Topology, head: int
) -> float:
    """Seconds for a relay starting at position 0 to publish (and checkpoint) ``head``."""
    await pool.execute("DELETE FROM checkpoints WHERE name = 'relay'")
    relay, stop = JetStreamRelay(store, pool, nc, topology), asyncio.Event()
    started, task = time.perf_counter(), asyncio.create_task(relay.run(stop))
    try:
        while relay.position < head:
            if task.done():
                task.result()
                raise RuntimeError(f"the relay stopped at position {relay.position}")
            await asyncio.sleep(0.002)
        return time.perf_counter() - started
    finally:
        stop.set()
        await task


async def raw_window(nc: NATS, stream: str, msgs: Sequence[Envelope], window: int = 500) -> None:
    """Plain ``nc.publish`` with a reply subject, at most ``window`` unacknowledged."""
    inbox, room = nc.new_inbox(), asyncio.Semaphore(window)
    done, acked, errors = asyncio.get_running_loop().create_future(), 0, list[bytes]()

    async def on_ack(msg: Msg) -> None:
        nonlocal acked
        if b'"error"' in msg.data:
            errors.append(msg.data)
        acked += 1
        room.release()
        if acked == len(msgs) and not done.done():
            done.set_result(None)

    sub = await nc.subscribe(f"{inbox}.*", cb=on_ack)
    try:
        for i, (subject, payload, msg_id) in enumerate(msgs):
            await room.acquire()
            headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Stream": stream}
            await nc.publish(subject, payload, reply=f"{inbox}.{i}", headers=headers)
        await asyncio.wait_for(done, 60)
    finally:
        await sub.unsubscribe()
    if errors:
        raise RuntimeError(f"{len(errors)} publishes refused, e.g. {errors[0]!r}")


async def raw_variant(variant: str, url: str, topology: Topology, msgs: list[Envelope]) -> float:
    """Events/s of one raw variant, on a connection and a fresh stream of its own."""
    async with db.connect_nats(url) as nc:
        js, stream = nc.jetstream(), topology.stream
        await ensure_stream(js, topology)

        def publish(method: Any, subject: str, payload: bytes, msg_id: str) -> Any:
            return method(subject, payload, stream=stream, headers={"Nats-Msg-Id": msg_id})

        started = time.perf_counter()
        if variant == "gather500":
            for i in range(0, len(msgs), 500):
                await asyncio.gather(*(publish(js.publish, *msg) for msg in msgs[i : i + 500]))
        elif variant == "publish_async":  # each call queues the message, its ack a future
            await asyncio.gather(*[await publish(js.publish_async, *msg) for msg in msgs])
        else:
            await raw_window(nc, stream, msgs)
        return len(msgs) / (time.perf_counter() - started)


async def part_relay(
    args: Any, pool: asyncpg.Pool, store: PostgresEventStore, streams: db.Streams
) -> list[dict[str, Any]]:
    head = await store.head_position()
    events: list[RecordedEvent] = []
    while len(events) < head and (page := await store.read_all(after=len(events), limit=5000)):
        events.extend(page)
    assert len(events) == head and events[-1].global_position == head
    rounds = []
    for r in range(1, args.rounds + 1):
        topology = streams.topology(f"r{r}")
        async with db.connect_nats(args.nats_url) as nc:
            seconds = await run_relay(store, pool, nc, topology, head)
        await streams.check_and_delete(topology, head, f"relay round {r}")
        relay = head / seconds
        common.log(f"  round {r}: relay {relay:,.0f} events/s ({seconds:.2f} s)")
        raw: dict[str, float] = {}
        for k, variant in enumerate(args.raw_variants):
            topology = streams.topology(f"r{r}raw{k}")
            msgs = [(topology.subject(e), db.encode(e), str(e.event_id)) for e in events]
            raw[variant] = await raw_variant(variant, args.nats_url, topology, msgs)
            await streams.check_and_delete(topology, len(msgs), variant)
            common.log(f"  round {r}: raw {variant} {raw[variant]:,.0f} events/s")
        reference, fastest = raw.get(REFERENCE_VARIANT, max(raw.values())), max(raw.values())
        this: dict[str, Any] = {"round": r, "events": head, "relay_seconds": round(seconds, 3)}
        this |= {"relay_events_per_s": round(relay, 1)}
        this |= {"raw_events_per_s": {k: round(v, 1) for k, v in raw.items()}}
        this |= {"relay_share": round(relay / reference, 3)}  # relay / the reference variant
        rounds.append(this | {"relay_share_of_fastest": round(relay / fastest, 3)})
    return rounds


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
        common.log(f"  rebuild {projection.name}: {head / seconds:,.0f} events/s "
                   f"({seconds:.2f} s) {rows}")  # fmt: skip
    messages = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'MessageSent'")
    if results[-1]["rows"]["messages"] != messages:
        raise RuntimeError("rebuilt timeline is missing messages")
    return results


async def run(args: Any) -> dict[str, Any]:
    began, parts, prefix = time.perf_counter(), set(args.parts), f"benchproj{secrets.token_hex(3)}"
    async with (
        db.throwaway_database(args.database_url, "bench_projections", migrated=True) as (url, pg),
        db.throwaway_streams(args.nats_url, prefix) as streams,
        db.event_store(url, 4, 12, args.sealed) as (pool, store),
    ):
        report: dict[str, Any] = {**common.facts(), "load_average": common.load_average()}
        report["loop"] = args.loop
        report["versions"] = {p: version(p) for p in ("nats-py", "asyncpg", "msgspec", "uvloop")}
        report |= {"postgresql": pg, "nats_server": str(streams.nc.connected_server_version)}
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
        if (more := target - first) > 0:
            seconds = more / await fill(store, more)
            common.log(f"log extended by {more:,} events in {seconds:.1f} s")
        if "rebuild" in parts:
            common.log(f"(b) rebuild over {await store.head_position():,} events")
            with common.machine_busy(cpu, "rebuild"):
                report["rebuild"] = await part_rebuild(pool, store)
        if "live" in parts:
            common.log("(c) live lag, workers: a parley worker process")
            with common.machine_busy(cpu, "live"):
                report["live"] = await part_live(args, url, pool, store, streams)
    report["load_average_end"] = common.load_average()
    return report | {"total_seconds": round(time.perf_counter() - began, 1)}
