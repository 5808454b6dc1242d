"""One run of bench.ws: the servers, the worker, the helper processes, then the parts."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import common
from bench.databases import create_conversations, throwaway_database
from bench.ws_e2e import E2EResult, part_e2e
from bench.ws_fanout import FanoutResult, MemoryResult, part_fanout, part_memory
from bench.ws_procs import JWT_SECRET, Agent, CpuMeter, Rig, own_stream, token

PARLEY = str(Path(sys.executable).parent / "parley")
VERSIONS = ("litestar", "uvicorn", "websockets", "uvloop", "msgspec")


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


async def run(args: Any) -> Report:
    started = time.monotonic()
    report = Report(
        date=common.now_utc(),
        command=common.command_line(),
        machine={
            "cpus": os.cpu_count(),
            "python": common.python_version(),
            "loadavg_at_start": common.load_average(),
            "open_files": common.raise_open_file_limit(),
            "git": common.git_revision(),
            "versions": {p: version(p) for p in VERSIONS},
        },
        settings={k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()},
    )
    del report.settings["json"]
    prefix = f"wsbench_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    common.log(f"logs in {workdir}; NATS prefix {prefix}")
    procs: list[common.Proc] = []
    agents: list[Agent] = []
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
        pipe = asyncio.subprocess.PIPE
        migrate = await asyncio.create_subprocess_exec(
            PARLEY,
            "migrate",
            env=env,
            cwd=common.ROOT,
            stdout=pipe,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await migrate.communicate()
        if migrate.returncode != 0:
            raise RuntimeError(f"parley migrate failed:\n{output.decode()}")

        async def start_servers(label: str) -> dict[str, common.Proc]:
            port = common.free_port()
            command = [PARLEY, "serve", "--log-level", "warning"]
            serve_env = {**env, "PARLEY_HTTP_PORT": str(port)}
            servers = {
                "parley": common.start(f"serve-{label}", command, serve_env, workdir, port),
                "bare": common.start_module(f"bare-{label}", "bench.servers", ["ws"], workdir, env),
            }
            try:
                await asyncio.gather(*(common.wait_ready(p) for p in servers.values()))
            except BaseException:
                for proc in servers.values():
                    common.stop(proc)
                raise
            return servers

        try:
            servers = await start_servers("main")
            procs += servers.values()
            procs.append(common.start("worker", [PARLEY, "worker"], env, workdir))
            for k in range(args.clients):
                agents.append(await Agent.start(f"client{k}", workdir))
            agents.append(tap := await Agent.start("tap", workdir, "--tap", args.nats_url, prefix))
            pids = {"serve": procs[0].pid, "worker": procs[2].pid, "bare": procs[1].pid}
            pids |= {"bench": os.getpid()} | {a.name: a.pid for a in agents[:-1]}
            cpu = CpuMeter(pids, urlsplit(url).path.lstrip("/"))
            rig = Rig(args, agents[:-1], tap, cpu, workdir)
            common.log("servers up")

            idle = -(-args.idle_sockets // args.per_conversation)
            fan = args.fanout_sockets // args.per_conversation
            ids = await create_conversations(
                servers["parley"].base_url, token("bench-admin"), args.e2e_senders + idle + fan
            )
            common.log(f"{len(ids)} conversations created")
            e2e_ids, idle_ids = ids[: args.e2e_senders], ids[args.e2e_senders :][:idle]
            if "memory" in args.parts:
                report.memory = await part_memory(rig, start_servers, idle_ids)
            if "e2e" in args.parts:
                gc.collect()
                e = report.e2e = await part_e2e(rig, servers["parley"], e2e_ids)
                common.log(
                    f"(a) {e.received}/{e.sent} received, p50 {e.latency['delivery']['p50']:.1f}"
                    f" ms, p99 {e.p99_ms:.1f} ms, ack p99 {e.latency['ack']['p99']:.1f} ms,"
                    f" cpu {e.cpu}"
                )
            if "fanout" in args.parts:
                report.fanout = await part_fanout(rig, servers, ids[args.e2e_senders + idle :])
            for proc in procs:
                if proc.process.poll() is not None:
                    raise RuntimeError(f"{proc.name} died during the run:\n{proc.tail()}")
        finally:
            for agent in reversed(agents):
                await agent.stop()
            for proc in reversed(procs):
                common.stop(proc)
    report.seconds = round(time.monotonic() - started, 1)
    return report
