"""(a) the relay against raw JetStream publishing, (b) rebuild, and the log
they run over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bench.common import log
from bench.projections_report import REFERENCE_VARIANT, RelayRound, Report
from events.envelope import RecordedEvent
from events.jetstream.relay import JetStreamRelay, Topology, ensure_stream
from events.postgres.store import PostgresEventStore

APPEND_SIZE = 100
CONTENT = (  # 200 characters: a typical customer message
    "Hi, I ordered running shoes last Tuesday (order 48213) and the tracking page "
    "still says 'label created' after five days. Could you check with the courier "
    "and tell me when they will arrive? Thanks, Jo!"
)
_encode = msgspec.json.Encoder().encode  # what events.jetstream.relay encodes envelopes with


class Streams:
    """Every JetStream stream this run creates, deleted at the end."""

    def __init__(self, nc: NATS, prefix: str) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.prefix = prefix
        self.names: list[str] = []

    def topology(self, suffix: str) -> Topology:
        topology = Topology(prefix=f"{self.prefix}{suffix}")
        self.names.append(topology.stream)
        return topology

    async def count(self, topology: Topology) -> int:
        info = await self.js.stream_info(topology.stream)
        return int(info.state.messages)

    async def delete(self, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.js.delete_stream(name)

    async def delete_all(self) -> None:
        for name in self.names:
            try:
                await self.delete(name)
            except Exception as error:  # keep deleting the others
                log(f"could not delete stream {name}: {error}")
        if self.names:
            log(f"deleted streams {', '.join(self.names)}")


@contextlib.asynccontextmanager
async def connect_nats(url: str) -> AsyncIterator[NATS]:
    try:
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
    except Exception as error:
        raise SystemExit(f"cannot connect to --nats-url {url}: {error}") from None
    try:
        yield nc
    finally:
        await nc.close()


# -- filling the log -------------------------------------------------------------------


async def read_everything(store: PostgresEventStore, head: int) -> list[RecordedEvent]:
    out: list[RecordedEvent] = []
    while len(out) < head and (page := await store.read_all(after=len(out), limit=5000)):
        out.extend(page)
    return out


# -- (a) relay and raw publishing -------------------------------------------------------


async def run_relay(
    store: PostgresEventStore,
    pool: asyncpg.Pool,
    nc: NATS,
    topology: Topology,
    head: int,
) -> float:
    """Seconds for a relay starting at position 0 to publish (and checkpoint) ``head``."""
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM checkpoints WHERE name = 'relay'")
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


Envelope = tuple[str, bytes, str]  # subject, payload, Nats-Msg-Id


def envelopes(events: Sequence[RecordedEvent], topology: Topology) -> list[Envelope]:
    """What the relay would publish for ``events``, under ``topology``'s prefix."""
    return [(topology.subject(e), _encode(e), str(e.event_id)) for e in events]


async def raw_gather(js: JetStreamContext, stream: str, msgs: Sequence[Envelope]) -> None:
    """Windows of 500 ``js.publish`` calls, each window gathered."""
    for i in range(0, len(msgs), 500):
        await asyncio.gather(
            *(
                js.publish(subject, payload, stream=stream, headers={"Nats-Msg-Id": msg_id})
                for subject, payload, msg_id in msgs[i : i + 500]
            )
        )


async def raw_publish_async(js: JetStreamContext, stream: str, msgs: Sequence[Envelope]) -> None:
    """``js.publish_async`` (up to its 4,000 in flight), then every ack."""
    futures = [
        await js.publish_async(subject, payload, stream=stream, headers={"Nats-Msg-Id": msg_id})
        for subject, payload, msg_id in msgs
    ]
    await asyncio.gather(*futures)


async def raw_window(nc: NATS, stream: str, msgs: Sequence[Envelope], window: int = 500) -> None:
    """Plain ``nc.publish`` with a reply subject, acks on one wildcard
    subscription, at most ``window`` unacknowledged at any time."""
    inbox = nc.new_inbox()
    room = asyncio.Semaphore(window)
    done = asyncio.get_running_loop().create_future()
    acked = 0
    errors: list[bytes] = []

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
            await nc.publish(
                subject,
                payload,
                reply=f"{inbox}.{i}",
                headers={"Nats-Msg-Id": msg_id, "Nats-Expected-Stream": stream},
            )
        await asyncio.wait_for(done, 60)
    finally:
        await sub.unsubscribe()
    if errors:
        raise RuntimeError(f"{len(errors)} publishes refused, e.g. {errors[0]!r}")


async def raw_variant(
    variant: str, url: str, streams: Streams, suffix: str, events: Sequence[RecordedEvent]
) -> float:
    """Events/s of one raw variant, on its own connection and its own fresh stream."""
    topology = streams.topology(suffix)
    msgs = envelopes(events, topology)
    async with connect_nats(url) as nc:
        js = nc.jetstream()
        await ensure_stream(js, topology)
        started = time.perf_counter()
        if variant == "gather500":
            await raw_gather(js, topology.stream, msgs)
        elif variant == "publish_async":
            await raw_publish_async(js, topology.stream, msgs)
        elif variant == "window500":
            await raw_window(nc, topology.stream, msgs)
        else:
            raise ValueError(variant)
        seconds = time.perf_counter() - started
    stored = await streams.count(topology)
    if stored != len(msgs):
        raise RuntimeError(f"{variant}: {stored} messages stored, {len(msgs)} published")
    await streams.delete(topology.stream)
    return len(msgs) / seconds


async def part_relay(
    args: Any,
    pool: asyncpg.Pool,
    store: PostgresEventStore,
    streams: Streams,
    report: Report,
) -> None:
    head = await store.head_position()
    events = await read_everything(store, head)
    assert len(events) == head and events[-1].global_position == head
    for r in range(1, args.rounds + 1):
        topology = streams.topology(f"r{r}")
        async with connect_nats(args.nats_url) as nc:
            seconds = await run_relay(store, pool, nc, topology, head)
        stored = await streams.count(topology)
        if stored != head:
            raise RuntimeError(f"relay round {r}: {stored} messages in the stream, log has {head}")
        await streams.delete(topology.stream)
        relay_eps = head / seconds
        log(f"  round {r}: relay {relay_eps:,.0f} events/s ({seconds:.2f} s)")
        raw: dict[str, float] = {}
        for k, variant in enumerate(args.raw_variants):
            raw[variant] = await raw_variant(variant, args.nats_url, streams, f"r{r}raw{k}", events)
            log(f"  round {r}: raw {variant} {raw[variant]:,.0f} events/s")
        reference = raw.get(REFERENCE_VARIANT, max(raw.values()))
        report.relay.append(
            RelayRound(
                round=r,
                events=head,
                relay_seconds=round(seconds, 3),
                relay_events_per_s=round(relay_eps, 1),
                raw_events_per_s={k: round(v, 1) for k, v in raw.items()},
                relay_share=round(relay_eps / reference, 3),
                relay_share_of_fastest=round(relay_eps / max(raw.values()), 3),
            )
        )
