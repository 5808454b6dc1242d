"""(c) live lag: commands at a steady rate, a `parley worker` beside them,
and when each projection's checkpoint reached each command's position."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from nats.js.errors import NotFoundError

from bench.common import log, start, stop, summary
from bench.projections_relay import CONTENT, Streams
from bench.projections_report import LiveResult, Report
from commands.handler import CommandHandler
from commands.model import Actor, Role, SendMessage, StartConversation
from events.catalogue import Channel, Client
from events.postgres import checkpoints
from events.postgres.store import PostgresEventStore

NOTIFY_CHANNEL = "bench_checkpoints"


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
async def worker(url: str, nats_url: str, prefix: str) -> AsyncIterator[Callable[[], str | None]]:
    """Run ``python -m parley worker`` (the relay and both projections, as
    deployed); yields a function that says why it died (None: alive)."""
    env = {**os.environ, "PARLEY_DATABASE_URL": url, "PARLEY_NATS_URL": nats_url}
    env["PARLEY_NATS_PREFIX"] = prefix
    with tempfile.TemporaryDirectory(prefix="bench-projections-") as workdir:
        proc = start("worker", [sys.executable, "-m", "parley", "worker"], env, Path(workdir))

        def died() -> str | None:
            if proc.process.poll() is None:
                return None
            return f"parley worker exited with {proc.process.returncode}:\n{proc.tail()}"

        try:
            yield died
        finally:
            await asyncio.to_thread(stop, proc)


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not await condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def part_live(
    args: Any,
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
        async with worker(url, args.nats_url, topology.prefix) as died:

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
        workers="subprocess: python -m parley worker",
        rate_target=args.rate,
        rate_achieved=round(len(sent) / elapsed, 1),
        seconds=round(elapsed, 2),
        conversations=len(conversations),
        commands=len(sent),
        failed_commands=len(sent) - len(ok),
        not_reached=not_reached,
        latency={
            name: summary([x * 1000 for x in values])
            for name, values in (
                ("lag_both", lags["both"]),
                ("lag_inbox", lags["inbox"]),
                ("lag_timeline", lags["timeline"]),
                ("lag_relay", lags["relay"]),
                ("command_latency", [s.committed - s.issued for s in ok]),
                ("schedule_slip", [s.issued - s.slot for s in sent]),
                ("loop_delay", delays),
            )
        },
        checkpoint_commits={n: reached.commits_between(n, window_start, window_end) for n in names},
    )
    live = report.live
    both = live.latency["lag_both"]
    log(
        f"  lag commit -> both read models: p50 {both['p50']:.1f} ms, "
        f"p99 {both['p99']:.1f} ms ({live.rate_achieved:g} cmd/s achieved)"
    )
