"""One run of bench.ws: the servers, the worker, the clients, then the parts."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    ROOT,
    Proc,
    free_port,
    git_revision,
    log,
    python_version,
    start,
    stop,
    wait_ready,
)
from bench.databases import create_conversations, throwaway_database
from bench.ws_e2e import E2EResult, part_e2e
from bench.ws_fanout import FanoutResult, part_fanout
from bench.ws_memory import MemoryResult, part_memory
from bench.ws_procs import (
    JWT_SECRET,
    ClientProc,
    CpuMeter,
    Tap,
    own_stream,
    raise_open_file_limit,
    token,
)

VENV_BIN = Path(sys.executable).parent
TARGET_E2E_P99_MS = 50.0
TARGET_RATE_RATIO = 0.70
TARGET_P99_FACTOR = 2.0
TARGET_IDLE_KIB = 50.0


@dataclass
class Report:
    date: str
    command: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    memory: list[MemoryResult] = field(default_factory=list)
    e2e: E2EResult | None = None
    fanout: list[FanoutResult] = field(default_factory=list)
    seconds: float = 0.0

    def targets(self) -> list[tuple[str, str, bool]]:
        out = []
        if self.e2e is not None:
            out.append(
                (
                    f"(a) e2e p99 < {TARGET_E2E_P99_MS:g} ms at {self.e2e.rate:g} msg/s",
                    f"{self.e2e.p99_ms:.1f} ms",
                    self.e2e.p99_ms < TARGET_E2E_P99_MS and self.e2e.lost == 0,
                )
            )
        fan = {f.server: f for f in self.fanout}
        if "bare" in fan and "parley" in fan:
            bare, parley = fan["bare"], fan["parley"]
            ratio = parley.deliveries_per_s / bare.deliveries_per_s
            out.append(
                (
                    f"(b) deliveries/s >= {TARGET_RATE_RATIO:.0%} of bare",
                    f"{ratio:.0%} ({parley.deliveries_per_s:,.0f} vs {bare.deliveries_per_s:,.0f})",
                    ratio >= TARGET_RATE_RATIO,
                )
            )
            factor = parley.p99_ms / bare.p99_ms
            pairs = [
                p.latency["delivery"]["p99"] / b.latency["delivery"]["p99"]
                for b, p in zip(bare.rounds, parley.rounds, strict=False)
            ]
            out.append(
                (
                    f"(b) p99 < {TARGET_P99_FACTOR:g}x bare p99",
                    f"{factor:.2f}x ({parley.p99_ms:.1f} vs {bare.p99_ms:.1f} ms, all rounds "
                    f"pooled); round by round {', '.join(f'{x:.2f}x' for x in pairs)}",
                    factor < TARGET_P99_FACTOR,
                )
            )
        mine = [m for m in self.memory if m.server == "parley"]
        for m in mine:
            out.append(
                (
                    f"(c) < {TARGET_IDLE_KIB:g} KiB per idle socket ({m.compression})",
                    f"{m.kib_per_socket:.1f} KiB",
                    m.kib_per_socket < TARGET_IDLE_KIB,
                )
            )
        return out


async def run(args: Any, argv: Sequence[str]) -> Report:
    started = time.monotonic()
    nofile = raise_open_file_limit()
    report = Report(
        date=datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        command=shlex.join([".venv/bin/python", "-m", "bench.ws", *argv]),
        machine={
            "cpus": os.cpu_count(),
            "python": python_version(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "open_files": nofile,
            "git": git_revision(),
            "versions": {
                p: version(p) for p in ("litestar", "uvicorn", "websockets", "uvloop", "msgspec")
            },
        },
        settings={
            k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items() if k != "json"
        },
    )
    prefix = f"wsbench_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    log(f"logs in {workdir}; NATS prefix {prefix}")
    procs: list[Proc] = []
    clients: list[ClientProc] = []
    tap = Tap()
    async with (
        throwaway_database(args.database_url, "bench_ws") as (url, _),
        own_stream(args.nats_url, prefix),
    ):
        env = {
            **os.environ,
            "PARLEY_DATABASE_URL": url,
            "PARLEY_NATS_URL": args.nats_url,
            "PARLEY_NATS_PREFIX": prefix,
            "PARLEY_JWT_SECRET": JWT_SECRET,
            "PARLEY_WS_HEARTBEAT_SECONDS": "600",
            # Thousands of sockets from one address, some under one user.
            "PARLEY_WS_MAX_SOCKETS_PER_USER": "1000000",
            "PARLEY_WS_CONNECTS_PER_MINUTE": "1000000",
        }
        migrate = await asyncio.create_subprocess_exec(
            str(VENV_BIN / "parley"),
            "migrate",
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await migrate.communicate()
        if migrate.returncode != 0:
            raise RuntimeError(f"parley migrate failed:\n{output.decode()}")

        async def start_servers(label: str) -> dict[str, Proc]:
            port, bare_port = free_port(), free_port()
            serve = start(
                f"serve-{label}",
                [str(VENV_BIN / "parley"), "serve", "--log-level", "warning"],
                {**env, "PARLEY_HTTP_PORT": str(port)},
                workdir,
                port,
            )
            bare = start(
                f"bare-{label}",
                [sys.executable, "-m", "bench.ws_bare", "--port", str(bare_port)],
                env,
                workdir,
                bare_port,
            )
            servers = {"parley": serve, "bare": bare}
            try:
                await asyncio.gather(wait_ready(serve), wait_ready(bare))
            except BaseException:
                for proc in servers.values():
                    stop(proc)
                raise
            return servers

        try:
            servers = await start_servers("main")
            serve, bare = servers["parley"], servers["bare"]
            procs += [serve, bare]
            worker = start("worker", [str(VENV_BIN / "parley"), "worker"], env, workdir)
            procs.append(worker)
            for k in range(args.clients):
                clients.append(await ClientProc.start(f"client{k}", workdir))
            pids = {
                "serve": serve.pid,
                "worker": worker.pid,
                "bare": bare.pid,
                "bench": os.getpid(),
            }
            pids.update({c.name: c.pid for c in clients})
            cpu = CpuMeter(pids, urlsplit(url).path.lstrip("/"))
            await tap.start(args.nats_url, prefix, workdir)
            log("servers up")

            admin = token("bench-admin")
            idle_conversations = -(-args.idle_sockets // args.per_conversation)
            fan_conversations = args.fanout_sockets // args.per_conversation
            ids = await create_conversations(
                serve.base_url, admin, args.e2e_senders + idle_conversations + fan_conversations
            )
            e2e_ids = ids[: args.e2e_senders]
            idle_ids = ids[args.e2e_senders : args.e2e_senders + idle_conversations]
            fan_ids = ids[args.e2e_senders + idle_conversations :]
            log(f"{len(ids)} conversations created")

            if "memory" in args.parts:
                report.memory = await part_memory(
                    clients[0], start_servers, idle_ids, args.idle_sockets, args.per_conversation
                )
            if "e2e" in args.parts:
                gc.collect()
                report.e2e = await part_e2e(serve, e2e_ids, args, cpu, tap)
                e = report.e2e
                log(
                    f"(a) {e.received}/{e.sent} received, p50 {e.latency['delivery']['p50']:.1f}"
                    f" ms, p99 {e.p99_ms:.1f} ms, ack p99 {e.latency['ack']['p99']:.1f} ms,"
                    f" cpu {e.cpu}"
                )
            if "fanout" in args.parts:
                report.fanout = await part_fanout(
                    servers, clients, fan_ids, args, cpu, tap, workdir
                )
            for proc in procs:
                if proc.process.poll() is not None:
                    raise RuntimeError(f"{proc.name} died during the run:\n{proc.tail()}")
        finally:
            await tap.stop()
            for client in clients:
                await client.stop()
            for proc in reversed(procs):
                stop(proc)
    report.seconds = round(time.monotonic() - started, 1)
    return report
