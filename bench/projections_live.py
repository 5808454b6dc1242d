"""(c) live lag: steady commands, a `parley worker`, when each checkpoint reached them."""

import asyncio
import bisect
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from nats.js.errors import NotFoundError

from bench import common
from bench.databases import Streams
from commands.handler import CommandHandler
from commands.model import Actor, Role, SendMessage, StartConversation
from events.catalogue import Channel, Client
from events.postgres import checkpoints
from events.postgres.store import PostgresEventStore

NAMES = ("relay", "inbox", "timeline")
NOTIFY_TRIGGER = """CREATE FUNCTION bench_notify_checkpoint() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN PERFORM pg_notify('bench_checkpoints', NEW.name || ' ' || NEW.position);
    RETURN NEW; END $$;
CREATE TRIGGER bench_notify_checkpoint AFTER UPDATE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION bench_notify_checkpoint()"""
STAFF = Actor(id="alice", role=Role.ADMIN)


class Reached:
    """When (this process's clock) each consumer's checkpoint reached which position."""

    def __init__(self) -> None:
        self.positions: dict[str, list[int]] = {n: [] for n in NAMES}
        self.times: dict[str, list[float]] = {n: [] for n in NAMES}

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        now = time.perf_counter()
        name, _, position = str(payload).partition(" ")
        if name in self.positions and int(position) > self.position(name):
            self.positions[name].append(int(position))
            self.times[name].append(now)

    def position(self, name: str) -> int:
        return self.positions[name][-1] if self.positions[name] else 0

    def first_time(self, name: str, position: int) -> float | None:
        i = bisect.bisect_left(self.positions[name], position)
        return self.times[name][i] if i < len(self.times[name]) else None


@dataclass
class Sent:
    slot: float
    issued: float
    committed: float = 0.0
    position: int = 0  # stays 0 if the command failed


Conversations = list[tuple[UUID, str]]  # id, client id


async def steady_load(
    handler: CommandHandler, conversations: Conversations, rate: float, seconds: float, k0: int
) -> tuple[list[Sent], float]:
    """SendMessage at ``rate`` per second for ``seconds``, open loop, numbered from ``k0``."""
    sent, tasks = list[Sent](), list[asyncio.Task[None]]()

    async def one(k: int, record: Sent) -> None:
        cid, client = conversations[k % len(conversations)]
        actor = STAFF if k % 2 else Actor(id=client, role=Role.CLIENT, client_id=client)
        try:
            command = SendMessage(conversation_id=cid, content=f"{k} {common.CONTENT[:120]}")
            result = await handler.handle(command, actor)
        except Exception as error:
            common.log(f"command failed: {error!r}")
            return
        record.committed, record.position = time.perf_counter(), result.position

    start, interval, total = time.perf_counter(), 1.0 / rate, int(rate * seconds)
    for i in range(total):
        slot = start + i * interval
        if (delay := slot - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        sent.append(record := Sent(slot=slot, issued=time.perf_counter()))
        tasks.append(asyncio.create_task(one(k0 + i, record)))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return sent, elapsed


async def part_live(
    args: Any, url: str, pool: asyncpg.Pool, store: PostgresEventStore, streams: Streams
) -> dict[str, Any]:
    topology, head = streams.topology("live"), await store.head_position()
    async with pool.acquire() as conn:
        for name in NAMES:
            if await checkpoints.load(conn, name) < head:  # the prefilled log is done with
                await checkpoints.save(conn, name, head)
        await conn.execute(NOTIFY_TRIGGER)
    reached, listener = Reached(), await asyncpg.connect(url)
    await listener.add_listener("bench_checkpoints", reached.on_notify)
    env = {**os.environ, "PARLEY_DATABASE_URL": url, "PARLEY_NATS_URL": args.nats_url}
    env["PARLEY_NATS_PREFIX"] = topology.prefix
    workdir = tempfile.TemporaryDirectory(prefix="bench-projections-")
    command = [sys.executable, "-m", "parley", "worker"]  # relay and projections, as deployed
    worker = common.Proc("worker", command, env, Path(workdir.name))

    async def until(done: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while not await done():  # while the worker runs, ``timeout`` seconds at most
            if (code := worker.poll()) is not None:
                raise RuntimeError(f"parley worker exited with {code}:\n{worker.tail()}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def ready() -> bool:
        with contextlib.suppress(NotFoundError):
            for name in ("inbox", "timeline"):
                await streams.js.consumer_info(topology.stream, f"{topology.prefix}-{name}")
            return True
        return False

    try:
        await until(ready, 30, "the workers' stream and consumers")
        handler = CommandHandler(store)
        conversations: Conversations = []
        for k in range(args.conversations):
            client = Client(id=f"live-client-{k}", name=f"Live {k}")
            opening = StartConversation(client=client, channel=Channel.WEB)
            result = await handler.handle(opening, STAFF)
            conversations.append((result.conversation_id, client.id))
        common.log(f"  {len(conversations)} conversations started; warming up {args.warmup:g} s")
        await steady_load(handler, conversations, args.rate, args.warmup, 0)
        delays: list[float] = []

        async def probe() -> None:  # this loop's delay, measurement noise
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                delays.append(max(0.0, time.perf_counter() - before - 0.01))

        common.log(f"  measuring {args.seconds:g} s at {args.rate:g} commands/s")
        probing = asyncio.create_task(probe())
        window_start, k0 = time.perf_counter(), int(args.rate * args.warmup)
        sent, elapsed = await steady_load(handler, conversations, args.rate, args.seconds, k0)
        window_end = time.perf_counter()
        probing.cancel()
        last = max((s.position for s in sent), default=0)

        async def caught_up() -> bool:
            return min(reached.position(n) for n in NAMES) >= last

        with contextlib.suppress(RuntimeError):
            await until(caught_up, 15, "the projections to catch up")
    finally:
        await listener.close()
        await asyncio.to_thread(worker.stop)
        workdir.cleanup()
    ok = [s for s in sent if s.position]
    lags: dict[str, list[float]] = {n: [] for n in (*NAMES, "both")}
    for s in ok:
        times = {n: reached.first_time(n, s.position) for n in NAMES}
        if times["inbox"] is not None and times["timeline"] is not None:
            times["both"] = max(times["inbox"], times["timeline"])
        for n, t in times.items():
            if t is not None:
                lags[n].append(max(0.0, t - s.committed))
    samples = {f"lag_{n}": lags[n] for n in ("both", "inbox", "timeline", "relay")}
    samples["command_latency"] = [s.committed - s.issued for s in ok]
    samples |= {"schedule_slip": [s.issued - s.slot for s in sent], "loop_delay": delays}
    live = {"workers": "subprocess: python -m parley worker", "rate_target": args.rate}
    live |= {"rate_achieved": round(len(sent) / elapsed, 1), "seconds": round(elapsed, 2)}
    live |= {"conversations": len(conversations), "commands": len(sent)}
    live |= {"failed_commands": len(sent) - len(ok), "not_reached": len(ok) - len(lags["both"])}
    live["latency"] = {k: common.summary([x * 1000 for x in v]) for k, v in samples.items()}
    commits = {n: sum(window_start <= t <= window_end for t in reached.times[n]) for n in NAMES}
    live["checkpoint_commits"] = commits  # checkpoint updates in the measured window
    both = live["latency"]["lag_both"]
    common.log(f"  lag commit -> both read models: p50 {both['p50']:.1f} ms, "
               f"p99 {both['p99']:.1f} ms ({live['rate_achieved']:g} cmd/s achieved)")  # fmt: skip
    return live
