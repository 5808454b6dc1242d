"""One run of bench.ws: servers, worker, helper processes, the parts; (a) end-to-end latency."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench import common
from bench.databases import create_conversations, throwaway_database, throwaway_streams
from bench.ws_client import decode_frame, ready_socket
from bench.ws_fanout import part_fanout, part_memory
from bench.ws_procs import JWT_SECRET, Agent, CpuMeter, HttpPool, Rig, compression_of, token, ws_url

PARLEY = str(Path(sys.executable).parent / "parley")
VERSIONS = ("litestar", "uvicorn", "websockets", "uvloop", "msgspec")


async def run(args: Any) -> dict[str, Any]:
    started, machine = time.monotonic(), common.facts()
    report: dict[str, Any] = {"date": machine.pop("date"), "command": machine.pop("command")}
    machine |= {"loadavg_at_start": common.load_average()}
    machine |= {"open_files": common.raise_open_file_limit(), "git": common.git_revision()}
    report["machine"] = machine | {"versions": {p: version(p) for p in VERSIONS}}
    report["settings"] = {k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()}
    del report["settings"]["json"]
    report |= {"memory": [], "e2e": None, "fanout": []}
    prefix, workdir = f"wsbench_{secrets.token_hex(4)}", Path(tempfile.mkdtemp(prefix="bench-ws-"))
    common.log(f"logs in {workdir}; NATS prefix {prefix}")
    agents: list[Agent] = []
    async with (
        throwaway_database(args.database_url, "bench_ws") as (url, _),
        throwaway_streams(args.nats_url, prefix) as streams,
    ):
        # what `parley serve` and `parley worker` create: the events and presence streams
        streams.names += [f"{prefix.upper()}_EVENTS", f"KV_{prefix.upper()}_PRESENCE"]
        env = {**os.environ, "PARLEY_DATABASE_URL": url, "PARLEY_NATS_URL": args.nats_url}
        env |= {"PARLEY_NATS_PREFIX": prefix, "PARLEY_JWT_SECRET": JWT_SECRET}
        env |= {"PARLEY_WS_HEARTBEAT_SECONDS": "600"}
        env |= {"PARLEY_WS_MAX_SOCKETS_PER_USER": "1000000"}  # thousands, from one address
        env |= {"PARLEY_WS_CONNECTS_PER_MINUTE": "1000000"}
        migrate = common.Proc("migrate", [PARLEY, "migrate"], env, workdir)
        if await asyncio.to_thread(migrate.wait) != 0:
            raise RuntimeError(f"parley migrate failed:\n{migrate.tail()}")

        @contextlib.asynccontextmanager
        async def servers_up(label: str) -> AsyncIterator[dict[str, common.Proc]]:
            """``parley serve`` and the bare server, stopped on the way out."""
            port, command = common.free_port(), [PARLEY, "serve", "--log-level", "warning"]
            serve_env = {**env, "PARLEY_HTTP_PORT": str(port)}
            serve = common.Proc(f"serve-{label}", command, serve_env, workdir, port)
            bare = common.start_module(f"bare-{label}", "bench.servers", ["ws"], workdir, env)
            with common.stopping([serve, bare]):
                await asyncio.gather(common.wait_ready(serve), common.wait_ready(bare))
                yield {"parley": serve, "bare": bare}

        async with servers_up("main") as servers:
            with common.stopping([common.Proc("worker", [PARLEY, "worker"], env, workdir)]) as w:
                try:
                    for k in range(args.clients):
                        agents.append(await Agent.start(f"client{k}", workdir))
                    tap_args = ("--tap", args.nats_url, prefix)
                    agents.append(tap := await Agent.start("tap", workdir, *tap_args))
                    pids = {"serve": servers["parley"].pid, "worker": w[0].pid}
                    pids |= {"bare": servers["bare"].pid, "bench": os.getpid()}
                    pids |= {a.name: a.pid for a in agents[:-1]}
                    cpu = CpuMeter(pids, urlsplit(url).path[1:])
                    rig = Rig(args, servers, servers_up, agents[:-1], tap, cpu)
                    common.log("servers up")
                    await parts(rig, report)
                    for proc in [*servers.values(), *w]:
                        if proc.poll() is not None:
                            raise RuntimeError(f"{proc.name} died during the run:\n{proc.tail()}")
                finally:
                    for agent in reversed(agents):
                        await agent.stop()
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


async def parts(rig: Rig, report: common.Report) -> None:
    """The conversations, then each part asked for."""
    args, servers = rig.args, rig.servers
    idle = -(-args.idle_sockets // args.per_conversation)
    count = args.e2e_senders + idle + args.fanout_sockets // args.per_conversation
    ids = await create_conversations(servers["parley"].base_url, token("bench-admin"), count)
    common.log(f"{len(ids)} conversations created")
    e2e_ids, idle_ids = ids[: args.e2e_senders], ids[args.e2e_senders :][:idle]
    if "memory" in args.parts:
        report["memory"] = await part_memory(rig, idle_ids)
    if "e2e" in args.parts:
        gc.collect()
        e = report["e2e"] = await part_e2e(rig, servers["parley"], e2e_ids)
        q = e["latency"]
        common.log(
            f"(a) {e['received']}/{e['sent']} received, p50 {q['delivery']['p50']:.1f} ms, p99 "
            f"{q['delivery']['p99']:.1f} ms, ack p99 {q['ack']['p99']:.1f} ms, cpu {e['cpu']}"
        )
    if "fanout" in args.parts:
        report["fanout"] = await part_fanout(rig, ids[args.e2e_senders + idle :])


async def part_e2e(rig: Rig, serve: common.Proc, conversations: Sequence[str]) -> dict[str, Any]:
    """``latency`` ms: delivery, ack, send_lag, the tap's splits; p99 of each 5 s of sends."""
    args, cpu, via_ws = rig.args, rig.cpu, rig.args.send_via == "ws"
    senders, gate, run_id = len(conversations), asyncio.Semaphore(50), secrets.token_hex(3)

    async def opened(role: str, i: int, conversation: str) -> ClientConnection:
        url = ws_url(serve.port, conversation, token(f"e2e-{role}-{run_id}-{i}"))
        async with gate:
            return await ready_socket(url, compression_of(args.compression))

    numbered = list(enumerate(conversations))
    subscribers = await asyncio.gather(*(opened("sub", *c) for c in numbered))
    sending = await asyncio.gather(*(opened("send", *c) for c in numbered if via_ws))
    common.log(f"(a) {len(subscribers)} subscriber and {len(sending)} sender sockets ready")

    warmup = round(args.e2e_warmup * args.e2e_rate)  # message numbers below it: the warm-up
    expected = round(args.e2e_seconds * args.e2e_rate)
    total = warmup + expected
    sent_at, received_at, all_received = dict[int, int](), dict[int, int](), asyncio.Event()
    samples, errors = defaultdict[str, list[float]](list), defaultdict[str, int](int)

    async def read(ws: ClientConnection, subscriber: bool) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now, frame = time.monotonic_ns(), decode_frame(raw)
                if subscriber and frame.type == "MESSAGE_CREATED" and frame.content:
                    _, n, sent = frame.content.split("|")
                    if int(n) >= warmup:
                        samples["delivery"].append((now - int(sent)) / 1e6)
                        received_at[int(n)] = now
                        if len(samples["delivery"]) >= expected:
                            all_received.set()
                elif not subscriber and frame.type == "ACK" and frame.ref is not None:
                    if (number := int(frame.ref)) >= warmup and number in sent_at:
                        samples["ack"].append((now - sent_at[number]) / 1e6)
                elif not subscriber and frame.type == "ERROR":
                    errors[frame.code or "?"] += 1

    readers = [asyncio.create_task(read(ws, True)) for ws in subscribers]
    readers += [asyncio.create_task(read(ws, False)) for ws in sending]
    jwt = {"Authorization": f"Bearer {token('e2e-http')}"}
    t0, interval = time.monotonic() + 0.2, 1 / args.e2e_rate
    async with HttpPool(serve.port, 0 if via_ws else 64, jwt) as http:
        for number in range(total):
            if number == warmup:
                cpu.start()
            due = t0 + number * interval
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            if number >= warmup:
                samples["send_lag"].append(max(0.0, time.monotonic() - due) * 1000)
            which, now = number % senders, time.monotonic_ns()
            content, sent_at[number] = f"e2e|{number}|{now}", now
            if via_ws:
                frame = {"type": "SEND_MESSAGE", "content": content, "ref": str(number)}
                await sending[which].send(json.dumps(frame))
            else:
                message = {"conversation_id": conversations[which], "content": content}
                ack = samples["ack"] if number >= warmup else None
                http.send("/api/messages", msgspec.json.encode(message), now, ack, errors)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_received.wait(), 5)
        usage = cpu.stop()
    for ws in [*subscribers, *sending]:
        with contextlib.suppress(Exception):
            await ws.close()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await rig.tap.sync()
    windows: dict[int, list[float]] = defaultdict(list)
    for number, at in received_at.items():
        sent = sent_at[number]
        if (arrived := rig.tap.split("e2e", number, sent, samples)) is not None:
            samples["nats_to_socket"].append((at - arrived) / 1e6)
        windows[(sent - sent_at.get(warmup, 0)) // 5_000_000_000].append((at - sent) / 1e6)
    names = ("delivery", "ack", "send_lag", "to_log", "log_to_nats", "nats_to_socket")
    received = len(samples["delivery"])
    result = {"send_via": args.send_via, "rate": args.e2e_rate, "seconds": args.e2e_seconds}
    result |= {"senders": senders, "sent": expected, "received": received}
    result |= {"lost": expected - received}
    result["latency"] = {name: common.summary(samples[name]) for name in names}
    result["window_p99_ms"] = [round(common.percentile(windows[w], 99), 1) for w in sorted(windows)]
    return result | {"errors": dict(errors), "cpu": usage}
