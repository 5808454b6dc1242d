"""(a) the relay against raw JetStream publishing, on a log already filled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from typing import Any

import asyncpg
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bench.common import log
from bench.databases import Streams, connect_nats
from events.envelope import RecordedEvent
from events.jetstream.relay import JetStreamRelay, Topology, ensure_stream
from events.postgres.store import PostgresEventStore

RAW_VARIANTS = ("gather500", "publish_async", "window500")
REFERENCE_VARIANT = "gather500"
Envelope = tuple[str, bytes, str]  # subject, payload, Nats-Msg-Id
_encode = msgspec.json.Encoder().encode  # what events.jetstream.relay encodes envelopes with


async def run_relay(
    store: PostgresEventStore, pool: asyncpg.Pool, nc: NATS, topology: Topology, head: int
) -> float:
    """Seconds for a relay starting at position 0 to publish (and checkpoint) ``head``."""
    await pool.execute("DELETE FROM checkpoints WHERE name = 'relay'")
    relay = JetStreamRelay(store, pool, nc, topology)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
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
    """Plain ``nc.publish`` with a reply subject, acks on one wildcard
    subscription, at most ``window`` unacknowledged at any time."""
    inbox, room = nc.new_inbox(), asyncio.Semaphore(window)
    done = asyncio.get_running_loop().create_future()
    acked, errors = 0, list[bytes]()

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
    """Events/s of one raw variant, on its own connection and its own fresh stream:
    ``gather500``: windows of 500 ``js.publish`` gathered; ``publish_async``: up to
    its 4,000 in flight, then every ack; ``window500``: :func:`raw_window`."""
    async with connect_nats(url) as nc:
        js, stream = nc.jetstream(), topology.stream
        await ensure_stream(js, topology)

        def publish(subject: str, payload: bytes, msg_id: str) -> Awaitable[Any]:
            return js.publish(subject, payload, stream=stream, headers={"Nats-Msg-Id": msg_id})

        started = time.perf_counter()
        if variant == "gather500":
            for i in range(0, len(msgs), 500):
                await asyncio.gather(*(publish(*msg) for msg in msgs[i : i + 500]))
        elif variant == "publish_async":
            futures = [
                await js.publish_async(s, p, stream=stream, headers={"Nats-Msg-Id": m})
                for s, p, m in msgs
            ]
            await asyncio.gather(*futures)
        else:
            await raw_window(nc, stream, msgs)
        return len(msgs) / (time.perf_counter() - started)


async def part_relay(
    args: Any, pool: asyncpg.Pool, store: PostgresEventStore, streams: Streams
) -> list[dict[str, Any]]:
    head = await store.head_position()
    events: list[RecordedEvent] = []
    while len(events) < head and (page := await store.read_all(after=len(events), limit=5000)):
        events.extend(page)
    assert len(events) == head and events[-1].global_position == head
    rounds = []
    for r in range(1, args.rounds + 1):
        topology = streams.topology(f"r{r}")
        async with connect_nats(args.nats_url) as nc:
            seconds = await run_relay(store, pool, nc, topology, head)
        await streams.check_and_delete(topology, head, f"relay round {r}")
        relay = head / seconds
        log(f"  round {r}: relay {relay:,.0f} events/s ({seconds:.2f} s)")
        raw: dict[str, float] = {}
        for k, variant in enumerate(args.raw_variants):
            topology = streams.topology(f"r{r}raw{k}")
            msgs = [(topology.subject(e), _encode(e), str(e.event_id)) for e in events]
            raw[variant] = await raw_variant(variant, args.nats_url, topology, msgs)
            await streams.check_and_delete(topology, len(msgs), variant)
            log(f"  round {r}: raw {variant} {raw[variant]:,.0f} events/s")
        reference, fastest = raw.get(REFERENCE_VARIANT, max(raw.values())), max(raw.values())
        this: dict[str, Any] = {"round": r, "events": head, "relay_seconds": round(seconds, 3)}
        this |= {"relay_events_per_s": round(relay, 1)}
        this |= {"raw_events_per_s": {k: round(v, 1) for k, v in raw.items()}}
        this |= {"relay_share": round(relay / reference, 3)}  # relay / the reference variant
        rounds.append(this | {"relay_share_of_fastest": round(relay / fastest, 3)})
    return rounds
