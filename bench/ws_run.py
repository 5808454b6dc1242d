"""One run of bench.ws: the servers, the worker, the helper processes, then the parts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import common
from bench.databases import create_conversations, throwaway_database, throwaway_streams
from bench.ws_e2e import part_e2e
from bench.ws_fanout import part_fanout, part_memory
from bench.ws_procs import JWT_SECRET, Agent, CpuMeter, Rig, token

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
    prefix = f"wsbench_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
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
        # Thousands of sockets from one address, some under one user.
        env |= {"PARLEY_WS_MAX_SOCKETS_PER_USER": "1000000"}
        env |= {"PARLEY_WS_CONNECTS_PER_MINUTE": "1000000"}
        command = [PARLEY, "migrate"]
        migrate = await asyncio.to_thread(
            subprocess.run, command, env=env, cwd=common.ROOT, capture_output=True
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"parley migrate failed:\n{migrate.stdout!r}{migrate.stderr!r}")

        @contextlib.asynccontextmanager
        async def servers_up(label: str) -> AsyncIterator[dict[str, common.Proc]]:
            """``parley serve`` and the bare server, stopped on the way out."""
            port = common.free_port()
            command = [PARLEY, "serve", "--log-level", "warning"]
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
                    cpu = CpuMeter(pids, urlsplit(url).path.lstrip("/"))
                    rig = Rig(args, agents[:-1], tap, cpu)
                    common.log("servers up")
                    await parts(args, rig, servers, servers_up, report)
                    for proc in [*servers.values(), *w]:
                        if proc.poll() is not None:
                            raise RuntimeError(f"{proc.name} died during the run:\n{proc.tail()}")
                finally:
                    for agent in reversed(agents):
                        await agent.stop()
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


async def parts(
    args: Any, rig: Rig, servers: dict[str, common.Proc], servers_up: Any, report: dict[str, Any]
) -> None:
    """The conversations, then each part asked for."""
    idle = -(-args.idle_sockets // args.per_conversation)
    fan = args.fanout_sockets // args.per_conversation
    ids = await create_conversations(
        servers["parley"].base_url, token("bench-admin"), args.e2e_senders + idle + fan
    )
    common.log(f"{len(ids)} conversations created")
    e2e_ids, idle_ids = ids[: args.e2e_senders], ids[args.e2e_senders :][:idle]
    if "memory" in args.parts:
        report["memory"] = await part_memory(rig, servers_up, idle_ids)
    if "e2e" in args.parts:
        gc.collect()
        e = report["e2e"] = await part_e2e(rig, servers["parley"], e2e_ids)
        q = e["latency"]
        common.log(
            f"(a) {e['received']}/{e['sent']} received, p50 {q['delivery']['p50']:.1f} ms, p99 "
            f"{q['delivery']['p99']:.1f} ms, ack p99 {q['ack']['p99']:.1f} ms, cpu {e['cpu']}"
        )
    if "fanout" in args.parts:
        report["fanout"] = await part_fanout(rig, servers, ids[args.e2e_senders + idle :])
