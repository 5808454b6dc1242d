"""The read side: relay throughput next to raw JetStream publishing, rebuild
throughput, and live projection lag under a steady command load.

Run from the repository root::

    .venv/bin/python -m bench.projections [--json]

What it does, in one run (defaults in brackets):

1. Creates a throwaway database on the ``--database-url`` server, migrates it
   (every package's migrations, as ``parley migrate``) and drops it at the end,
   also on an error or Ctrl-C. Every JetStream stream it creates carries its own
   random prefix (``benchproj<hex>``) and is deleted at the end too.
2. **(a) Relay.** Fills the log with ``--events`` [50,000] events straight
   through ``PostgresEventStore.append``: 100 conversations per 50,000 events,
   each a ConversationStarted and then MessageSent events (200-character
   content, senders alternating client/admin) in concurrent 100-event appends.
   Then, for each of ``--rounds`` [3] rounds:

   - *relay*: ``JetStreamRelay(...).run()`` from position 0 (the ``relay``
     checkpoint row is deleted first and each round gets a fresh stream) until
     ``relay.position`` reaches the head: reading the log, decoding, encoding
     the envelope, publishing with ``Nats-Msg-Id``, awaiting the acks, saving
     the checkpoint — everything the relay does;
   - *raw*: the very same envelopes (encoded beforehand with the relay's own
     encoder, same subjects under another prefix, same ``Nats-Msg-Id`` and
     ``Nats-Expected-Stream`` headers) published by nats-py alone into a
     fresh stream with the same configuration (file storage, 2-minute
     de-duplication window) on the same server, one variant per stream:
     ``gather500`` (windows of 500 ``js.publish`` calls under
     ``asyncio.gather``: the reference of the target), ``publish_async``
     (nats-py's ``js.publish_async``, up to 4,000 in flight) and
     ``window500`` (plain ``nc.publish`` with a reply inbox on one wildcard
     subscription, a sliding window of 500 unacknowledged messages). The
     relay itself publishes the ``window500`` way (its window is 1,000), so
     ``window500`` is its like-for-like ceiling: what is left between the two
     is reading and decoding the log, encoding, and the checkpoints.

   Each stream's message count is checked against the number published.
3. **(b) Rebuild.** Extends the log to ``--rebuild-events`` [200,000] events
   the same way and times ``projections.rebuild.rebuild()`` of the inbox and
   of the timeline projection (replay of the whole log into shadow tables,
   swap, checkpoint), then checks the row counts.
4. **(c) Live lag.** Moves the ``relay`` checkpoint to the head (the
   prefilled log counts as published; the live phase uses a new, empty
   stream under its own prefix), installs in this throwaway database a
   trigger that ``pg_notify``s every checkpoint update, and starts the
   workers: by default a ``python -m parley worker`` subprocess (relay and
   both projection runners, its own event loop and process, as deployed;
   ``--workers inprocess`` runs ``parley.worker.run_workers`` as tasks in this
   process instead). 100 new conversations are started, then SendMessage
   commands (alternately from the staff and from the conversation's client)
   go through ``CommandHandler.handle`` in this process at a steady
   ``--rate`` [500] per second, open loop (each on schedule, not after the
   previous one), round-robin over the conversations: ``--warmup`` [3] s
   unmeasured, then ``--seconds`` [20] s measured.

   *Lag* of a command = (the moment this process receives the NOTIFY of the
   checkpoint commit that brings *both* the inbox and the timeline checkpoint
   to at least the command's ``position``) minus (the moment ``handle()``
   returned that position, i.e. just after the command's commit). A
   projection's checkpoint is committed in the same transaction as its
   read-model rows, so this is commit-to-visible-in-the-read-models. The
   relay's own checkpoint (saved after JetStream acked the batch) is timed
   the same way, to split the lag. Times are taken in this process's event
   loop, which also issues the commands; its scheduling delay (a 10 ms ticker's
   overshoot) is reported next to the lags.

Options: ``--json`` prints the report as JSON; ``--parts relay,rebuild,live``
picks parts; ``--loop uvloop|asyncio`` (default uvloop, as ``parley worker``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bench.databases import log, throwaway_database
from bench.tables import markdown_table
from commands.handler import CommandHandler
from commands.model import Actor, Role, SendMessage, StartConversation, stream_id_for
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent, RecordedEvent
from events.jetstream.relay import JetStreamRelay, Topology, ensure_stream
from events.postgres import checkpoints
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.timeline import TimelineProjection

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
TARGET_RELAY_SHARE = 0.70
TARGET_REBUILD_EPS = 20_000.0
TARGET_LAG_P99_MS = 100.0
CONVERSATIONS_PER_50K = 100
APPEND_SIZE = 100
RAW_VARIANTS = ("gather500", "publish_async", "window500")
REFERENCE_VARIANT = "gather500"
NOTIFY_CHANNEL = "bench_checkpoints"

# 200 characters: a typical customer message.
CONTENT = (
    "Hi, I ordered running shoes last Tuesday (order 48213) and the tracking page "
    "still says 'label created' after five days. Could you check with the courier "
    "and tell me when they will arrive? Thanks, Jo!"
)
assert len(CONTENT) == 200

_encode = msgspec.json.Encoder().encode  # what events.jetstream.relay encodes envelopes with


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (zeros elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


@contextlib.contextmanager
def machine_busy(into: dict[str, float], part: str) -> Iterator[None]:
    """Record the machine's CPU use (all processes, 100% = every core) during a part."""
    busy0, total0 = cpu_times()
    try:
        yield
    finally:
        busy1, total1 = cpu_times()
        if total1 > total0:
            into[part] = round(100 * (busy1 - busy0) / (total1 - total0), 1)


# -- results -------------------------------------------------------------------------


@dataclass
class RelayRound:
    round: int
    events: int
    relay_seconds: float
    relay_events_per_s: float
    raw_events_per_s: dict[str, float]
    relay_share: float
    """relay / the reference raw variant (gather500)."""
    relay_share_of_fastest: float


@dataclass
class RebuildResult:
    projection: str
    events: int
    seconds: float
    events_per_s: float
    rows: dict[str, int]


@dataclass
class Quantiles:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Quantiles:
        values = sorted(seconds)
        n = len(values)

        def q(p: float) -> float:
            return round(values[min(n - 1, int(n * p))] * 1000, 2) if n else float("nan")

        return cls(n, q(0.50), q(0.90), q(0.99), round(values[-1] * 1000, 2) if n else 0.0)


@dataclass
class LiveResult:
    workers: str
    rate_target: float
    rate_achieved: float
    seconds: float
    conversations: int
    commands: int
    failed_commands: int
    not_reached: int
    lag_both: Quantiles
    lag_inbox: Quantiles
    lag_timeline: Quantiles
    lag_relay: Quantiles
    command_latency: Quantiles
    schedule_slip: Quantiles
    """How late each command was issued, compared with its slot."""
    loop_delay: Quantiles
    """Overshoot of a 10 ms sleep in this process's loop: measurement noise."""
    checkpoint_commits: dict[str, int]
    """Checkpoint updates seen during the measured window, per consumer."""


@dataclass
class Report:
    date: str
    command: str
    cpus: int
    load_average: list[float]
    python: str
    loop: str
    versions: dict[str, str]
    postgresql: dict[str, str]
    nats_server: str
    settings: dict[str, Any]
    fill: dict[str, float] = field(default_factory=dict)
    relay: list[RelayRound] = field(default_factory=list)
    rebuild: list[RebuildResult] = field(default_factory=list)
    live: LiveResult | None = None
    machine_cpu_percent: dict[str, float] = field(default_factory=dict)
    """Busy share of all cores during each part, every process included."""
    load_average_end: list[float] = field(default_factory=list)
    total_seconds: float = 0.0

    def relay_median(self, key: str) -> float:
        return statistics.median(getattr(r, key) for r in self.relay)

    def raw_median(self, variant: str) -> float:
        return statistics.median(r.raw_events_per_s[variant] for r in self.relay)

    def targets(self) -> list[tuple[str, str, bool]]:
        out: list[tuple[str, str, bool]] = []
        if self.relay:
            share = self.relay_median("relay_share")
            out.append(
                (
                    f"relay >= {TARGET_RELAY_SHARE:.0%} of raw pipelined ({REFERENCE_VARIANT})",
                    f"{share:.0%} (median of {len(self.relay)} rounds)",
                    share >= TARGET_RELAY_SHARE,
                )
            )
        for r in self.rebuild:
            out.append(
                (
                    f"rebuild {r.projection} >= {TARGET_REBUILD_EPS:,.0f} events/s",
                    f"{r.events_per_s:,.0f} events/s",
                    r.events_per_s >= TARGET_REBUILD_EPS,
                )
            )
        if self.live:
            p99 = self.live.lag_both.p99_ms
            ok = p99 < TARGET_LAG_P99_MS and self.live.not_reached == 0
            out.append(
                (
                    f"live lag p99 < {TARGET_LAG_P99_MS:.0f} ms at {self.live.rate_target:g} cmd/s",
                    f"{p99:.1f} ms",
                    ok,
                )
            )
        return out


# -- database and NATS ---------------------------------------------------------------


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
    args: argparse.Namespace,
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


# -- (b) rebuild --------------------------------------------------------------------------


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


# -- (c) live lag ----------------------------------------------------------------------------


_NOTIFY_TRIGGER = f"""
CREATE FUNCTION bench_notify_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.name || ' ' || NEW.position);
    RETURN NEW;
END
$$;
CREATE TRIGGER bench_notify_checkpoint AFTER UPDATE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION bench_notify_checkpoint();
"""


class Reached:
    """When (this process's clock) each consumer's checkpoint reached what."""

    def __init__(self, names: Sequence[str]) -> None:
        self.timeline: dict[str, list[tuple[int, float]]] = {n: [] for n in names}
        self.position: dict[str, int] = dict.fromkeys(names, 0)

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        now = time.perf_counter()
        name, _, position = str(payload).partition(" ")
        if name in self.position and int(position) > self.position[name]:
            self.position[name] = int(position)
            self.timeline[name].append((int(position), now))

    def first_time(self, name: str, position: int) -> float | None:
        """When ``name`` first reached ``position`` (None: not yet)."""
        entries = self.timeline[name]
        lo, hi = 0, len(entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if entries[mid][0] >= position:
                hi = mid
            else:
                lo = mid + 1
        return entries[lo][1] if lo < len(entries) else None

    def commits_between(self, name: str, start: float, end: float) -> int:
        return sum(1 for _, t in self.timeline[name] if start <= t <= end)


@dataclass
class Sent:
    slot: float
    issued: float
    committed: float = 0.0
    position: int = 0
    failed: bool = False


async def steady_load(
    handler: CommandHandler,
    conversations: Sequence[tuple[UUID, str]],
    rate: float,
    seconds: float,
    offset: int,
) -> tuple[list[Sent], float]:
    """SendMessage at ``rate`` per second for ``seconds``, open loop."""
    loop = asyncio.get_running_loop()
    sent: list[Sent] = []
    tasks: set[asyncio.Task[None]] = set()
    staff = Actor(id="alice", role=Role.ADMIN)

    async def one(k: int, record: Sent) -> None:
        cid, client = conversations[k % len(conversations)]
        actor = staff if k % 2 else Actor(id=client, role=Role.CLIENT, client_id=client)
        try:
            result = await handler.handle(
                SendMessage(conversation_id=cid, content=f"{k} {CONTENT[:120]}"), actor
            )
        except Exception as error:
            record.failed = True
            log(f"command failed: {error!r}")
            return
        record.committed = time.perf_counter()
        record.position = result.position

    start = time.perf_counter()
    interval = 1.0 / rate
    total = int(rate * seconds)
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and start + i * interval <= now:
            record = Sent(slot=start + i * interval, issued=time.perf_counter())
            sent.append(record)
            task = loop.create_task(one(offset + i, record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return sent, elapsed


async def loop_delay_probe(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        out.append(max(0.0, time.perf_counter() - before - 0.01))


@contextlib.asynccontextmanager
async def workers(
    mode: str, url: str, nats_url: str, prefix: str
) -> AsyncIterator[Callable[[], str | None]]:
    """Run the relay and both projections (a ``parley worker`` subprocess, or
    tasks here); yields a function that says why they died (None: alive)."""
    if mode == "subprocess":
        env = {
            **os.environ,
            "PARLEY_DATABASE_URL": url,
            "PARLEY_NATS_URL": nats_url,
            "PARLEY_NATS_PREFIX": prefix,
        }
        with tempfile.TemporaryFile() as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "parley",
                "worker",
                env=env,
                stdout=output,
                stderr=output,
                start_new_session=True,  # Ctrl-C reaches it through us, in order
            )

            def died() -> str | None:
                if process.returncode is None:
                    return None
                output.seek(0)
                tail = output.read()[-2000:].decode(errors="replace")
                return f"parley worker exited with {process.returncode}:\n{tail}"

            try:
                yield died
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(process.wait(), 15)
                    except TimeoutError:
                        process.kill()
                        await process.wait()
    else:
        from parley.settings import Settings
        from parley.worker import run_workers

        pool = await create_pool(url, min_size=2, max_size=10)
        nc = await nats.connect(nats_url)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_workers(
                Settings(database_url=url, nats_url=nats_url, nats_prefix=prefix), pool, nc, stop
            )
        )

        def died() -> str | None:
            if not task.done():
                return None
            return f"workers ended: {task.exception()!r}"

        try:
            yield died
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await task
            await nc.close()
            await pool.close()


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not await condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def part_live(
    args: argparse.Namespace,
    url: str,
    pool: asyncpg.Pool,
    store: PostgresEventStore,
    streams: Streams,
    report: Report,
) -> None:
    topology = streams.topology("live")
    head = await store.head_position()
    async with pool.acquire() as conn:
        for name in ("relay", "inbox", "timeline"):
            if await checkpoints.load(conn, name) < head:  # the prefilled log is done with
                await checkpoints.save(conn, name, head)
        await conn.execute(_NOTIFY_TRIGGER)
    names = ("relay", "inbox", "timeline")
    reached = Reached(names)
    listener = await asyncpg.connect(url)
    await listener.add_listener(NOTIFY_CHANNEL, reached.on_notify)
    js = streams.js
    try:
        async with workers(args.workers, url, args.nats_url, topology.prefix) as died:

            async def ready() -> bool:
                if (why := died()) is not None:
                    raise RuntimeError(why)
                try:
                    for name in ("inbox", "timeline"):
                        await js.consumer_info(topology.stream, f"{topology.prefix}-{name}")
                except NotFoundError:
                    return False
                return True

            await _until(ready, 30, "the workers' stream and consumers")
            handler = CommandHandler(store)
            conversations: list[tuple[UUID, str]] = []
            for k in range(args.conversations):
                client = f"live-client-{k}"
                result = await handler.handle(
                    StartConversation(
                        client=Client(id=client, name=f"Live {k}"), channel=Channel.WEB
                    ),
                    Actor(id="alice", role=Role.ADMIN),
                )
                conversations.append((result.conversation_id, client))
            log(f"  {len(conversations)} conversations started; warming up {args.warmup:g} s")
            await steady_load(handler, conversations, args.rate, args.warmup, 0)
            probe_stop = asyncio.Event()
            delays: list[float] = []
            probe = asyncio.create_task(loop_delay_probe(probe_stop, delays))
            log(f"  measuring {args.seconds:g} s at {args.rate:g} commands/s")
            window_start = time.perf_counter()
            sent, elapsed = await steady_load(
                handler, conversations, args.rate, args.seconds, int(args.rate * args.warmup)
            )
            window_end = time.perf_counter()
            probe_stop.set()
            await probe
            last = max((s.position for s in sent if not s.failed), default=0)

            async def caught_up() -> bool:
                if (why := died()) is not None:
                    raise RuntimeError(why)
                return min(reached.position[n] for n in names) >= last

            with contextlib.suppress(RuntimeError):
                await _until(caught_up, 15, "the projections to catch up")
    finally:
        await listener.close()

    ok = [s for s in sent if not s.failed]
    lags: dict[str, list[float]] = {n: [] for n in (*names, "both")}
    not_reached = 0
    for s in ok:
        times = {n: reached.first_time(n, s.position) for n in names}
        for n, t in times.items():
            if t is not None:
                lags[n].append(max(0.0, t - s.committed))
        if times["inbox"] is None or times["timeline"] is None:
            not_reached += 1
        else:
            lags["both"].append(max(0.0, max(times["inbox"], times["timeline"]) - s.committed))
    report.live = LiveResult(
        workers=(
            "subprocess: python -m parley worker"
            if args.workers == "subprocess"
            else "in-process tasks: parley.worker.run_workers"
        ),
        rate_target=args.rate,
        rate_achieved=round(len(sent) / elapsed, 1),
        seconds=round(elapsed, 2),
        conversations=len(conversations),
        commands=len(sent),
        failed_commands=len(sent) - len(ok),
        not_reached=not_reached,
        lag_both=Quantiles.of(lags["both"]),
        lag_inbox=Quantiles.of(lags["inbox"]),
        lag_timeline=Quantiles.of(lags["timeline"]),
        lag_relay=Quantiles.of(lags["relay"]),
        command_latency=Quantiles.of([s.committed - s.issued for s in ok]),
        schedule_slip=Quantiles.of([s.issued - s.slot for s in sent]),
        loop_delay=Quantiles.of(delays),
        checkpoint_commits={n: reached.commits_between(n, window_start, window_end) for n in names},
    )
    live = report.live
    log(
        f"  lag commit -> both read models: p50 {live.lag_both.p50_ms} ms, "
        f"p99 {live.lag_both.p99_ms} ms ({live.rate_achieved:g} cmd/s achieved)"
    )


# -- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, argv: Sequence[str]) -> Report:
    began = time.perf_counter()
    parts = set(args.parts)
    prefix = f"benchproj{secrets.token_hex(3)}"
    async with (
        throwaway_database(args.database_url, "bench_projections", MIGRATION_FOLDERS) as (
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
            python=platform.python_version(),
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
                "workers": args.workers,
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
                log(f"(c) live lag, workers: {args.workers}")
                with machine_busy(report.machine_cpu_percent, "live"):
                    await part_live(args, url, pool, store, streams, report)
        finally:
            await store.close()
            await pool.close()
            await streams.delete_all()
    report.total_seconds = round(time.perf_counter() - began, 1)
    report.load_average_end = [round(x, 2) for x in os.getloadavg()]
    return report


# -- output -------------------------------------------------------------------------------------


def render(report: Report) -> str:
    pg, v = report.postgresql, report.versions
    lines = [
        "Read side: relay vs raw JetStream publishing, rebuild, live projection lag",
        f"date:     {report.date}",
        f"command:  {report.command}",
        f"machine:  {report.cpus} CPUs (load average at start: "
        f"{' '.join(f'{x:.2f}' for x in report.load_average)}), Python {report.python}, "
        f"loop {report.loop}; PostgreSQL {pg.get('server_version')} (synchronous_commit="
        f"{pg.get('synchronous_commit')}, fsync={pg.get('fsync')}, shared_buffers="
        f"{pg.get('shared_buffers')}); nats-server {report.nats_server}; nats-py "
        f"{v['nats-py']}, asyncpg {v['asyncpg']}, msgspec {v['msgspec']}",
        f"fill:     {report.fill.get('events', 0):,.0f} events appended at "
        f"{report.fill.get('events_per_s', 0):,.0f} events/s (100-event appends, concurrent)",
    ]
    if report.relay:
        variants = list(report.relay[0].raw_events_per_s)
        lines += [
            "",
            f"(a) {report.relay[0].events:,} events, log -> JetStream (file storage), "
            f"events/s per round and median of {len(report.relay)}",
            "",
        ]
        rows = [
            [
                "relay (JetStreamRelay.run from 0)",
                " / ".join(f"{r.relay_events_per_s:,.0f}" for r in report.relay),
                f"{report.relay_median('relay_events_per_s'):,.0f}",
            ]
        ]
        for variant in variants:
            rows.append(
                [
                    f"raw {variant}" + (" (reference)" if variant == REFERENCE_VARIANT else ""),
                    " / ".join(f"{r.raw_events_per_s[variant]:,.0f}" for r in report.relay),
                    f"{report.raw_median(variant):,.0f}",
                ]
            )
        rows.append(
            [
                f"relay / raw {REFERENCE_VARIANT}",
                " / ".join(f"{r.relay_share:.0%}" for r in report.relay),
                f"{report.relay_median('relay_share'):.0%}",
            ]
        )
        rows.append(
            [
                "relay / fastest raw",
                " / ".join(f"{r.relay_share_of_fastest:.0%}" for r in report.relay),
                f"{report.relay_median('relay_share_of_fastest'):.0%}",
            ]
        )
        lines += markdown_table(["what", "per round", "median"], rows)
    if report.rebuild:
        lines += ["", f"(b) rebuild() over {report.rebuild[0].events:,} events", ""]
        lines += markdown_table(
            ["projection", "seconds", "events/s", "rows"],
            [
                [
                    r.projection,
                    f"{r.seconds:.2f}",
                    f"{r.events_per_s:,.0f}",
                    ", ".join(f"{t} {n:,}" for t, n in r.rows.items()),
                ]
                for r in report.rebuild
            ],
        )
    if (live := report.live) is not None:
        lines += [
            "",
            f"(c) live lag: SendMessage via CommandHandler at {live.rate_target:g}/s "
            f"(achieved {live.rate_achieved:,.1f}/s) over {live.conversations} conversations "
            f"for {live.seconds:g} s; workers: {live.workers}",
            "    lag = NOTIFY of the checkpoint commit reaching the command's position, "
            "received here - handle() returned",
            "",
        ]
        rows = []
        for label, q in (
            ("commit -> inbox AND timeline", live.lag_both),
            ("commit -> inbox", live.lag_inbox),
            ("commit -> timeline", live.lag_timeline),
            ("commit -> relay acked+checkpointed", live.lag_relay),
            ("handle() latency (issue -> commit)", live.command_latency),
            ("issue slip (vs schedule)", live.schedule_slip),
            ("this loop's delay (10 ms ticker)", live.loop_delay),
        ):
            rows.append(
                [
                    label,
                    f"{q.count:,}",
                    f"{q.p50_ms:.1f}",
                    f"{q.p90_ms:.1f}",
                    f"{q.p99_ms:.1f}",
                    f"{q.max_ms:.1f}",
                ]
            )
        lines += markdown_table(["what", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows)
        commits = ", ".join(f"{n} {c:,}" for n, c in live.checkpoint_commits.items())
        lines.append(
            f"commands {live.commands:,}, failed {live.failed_commands}, never reached "
            f"{live.not_reached}; checkpoint commits in the window: {commits}"
        )
    lines += ["", "targets:"]
    for target, measured, met in report.targets():
        lines.append(f"  [{'met' if met else 'MISSED'}] {target}: {measured}")
    busy = ", ".join(f"{k} {v:.0f}%" for k, v in report.machine_cpu_percent.items())
    lines.append(
        f"machine CPU busy (all processes, all cores) during: {busy}; load average at end: "
        + " ".join(f"{x:.2f}" for x in report.load_average_end)
    )
    lines.append(f"total run time: {report.total_seconds:g} s")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.projections",
        description="Relay vs raw JetStream publishing, rebuild throughput, live lag.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PARLEY_DATABASE_URL") or DEFAULT_ADMIN_URL,
        help="a server where this script may create and drop a database "
        "(default: $PARLEY_DATABASE_URL, else %(default)s)",
    )
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("PARLEY_NATS_URL") or DEFAULT_NATS_URL,
        help="NATS with JetStream (default: $PARLEY_NATS_URL, else %(default)s)",
    )
    parser.add_argument("--events", type=int, default=50_000, help="(a) events to relay")
    parser.add_argument(
        "--rebuild-events", type=int, default=200_000, help="(b) events in the log to rebuild"
    )
    parser.add_argument("--rounds", type=int, default=3, help="(a) relay + raw rounds (median)")
    parser.add_argument(
        "--raw-variants",
        type=lambda s: [v for v in s.split(",") if v],
        default=list(RAW_VARIANTS),
        help=f"(a) comma-separated, from {','.join(RAW_VARIANTS)} (default: all)",
    )
    parser.add_argument("--rate", type=float, default=500.0, help="(c) commands per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="(c) measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="(c) unmeasured seconds")
    parser.add_argument("--conversations", type=int, default=100, help="(c) conversations")
    parser.add_argument(
        "--workers",
        choices=["subprocess", "inprocess"],
        default="subprocess",
        help="(c) a `parley worker` process (default) or tasks in this process",
    )
    parser.add_argument(
        "--parts",
        type=lambda s: [p for p in s.split(",") if p],
        default=["relay", "rebuild", "live"],
        help="comma-separated, from relay,rebuild,live (default: all)",
    )
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if unknown := set(args.raw_variants) - set(RAW_VARIANTS):
        parser.error(f"unknown raw variant(s): {', '.join(sorted(unknown))}")
    if unknown := set(args.parts) - {"relay", "rebuild", "live"}:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    if args.rebuild_events < 200_000:
        log("note: the acceptance asks for a rebuild over at least 200,000 events")
    return args


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
        task: asyncio.Task[Report] | None = None

        async def start() -> Report:
            nonlocal task
            task = asyncio.current_task()
            assert task is not None
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            return await run(args, argv)

        try:
            report = runner.run(start())
        except (KeyboardInterrupt, asyncio.CancelledError):
            log("interrupted")
            return 130
    if args.json:
        data = asdict(report)
        data["targets"] = [
            {"target": t, "measured": m, "met": met} for t, m, met in report.targets()
        ]
        print(json.dumps(data, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
