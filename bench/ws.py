"""The WebSocket edge: e2e latency, fan-out against a bare broadcast, memory per socket."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncio
import contextlib
import gc
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from bench import common
from bench.databases import create_conversations, throwaway_database, throwaway_streams
from bench.ws_parts import part_e2e, part_fanout, part_memory
from bench.ws_procs import JWT_SECRET, Agent, CpuMeter, Rig, token

PARLEY = str(Path(sys.executable).parent / "parley")
VERSIONS = ("litestar", "uvicorn", "websockets", "uvloop", "msgspec")
E2E_CPU = ("serve", "worker", "pg", "bench", "rest", "machine")
FANOUT_CPU = ("serve", "worker", "pg", "bare", "client0", "client1", "rest", "machine")
SPLIT = ("delivery", "spread", "post", "to_log", "log_to_nats", "nats_to_socket")
E2E_HEADER = ["sent", "received", "p50 ms", "p90 ms", "p99 ms", "max ms", "ACK p50/p99 ms", "CPU"]
FANOUT_HEADER = ["server", "delivered", "deliv/s", "latency p50/p99", "spread", "POST->response"]
FANOUT_HEADER += ["POST->INSERT", "INSERT->NATS", "NATS->socket", "CPU (% of one core)"]
MEMORY_HEADER = ["server", "compression", "sockets", "RSS before", "RSS after", "per socket"]
MEMORY_HEADER += ["after close"]
RSS = ("rss_before", "rss_after", "rss_after_close")
LOWER_BOUND = "(a lower bound: that process reuses memory freed by earlier parts)"
OPTIONS: list[common.Option] = [("parts", lambda s: set(s.split(",")), "memory,e2e,fanout", "")]
OPTIONS += [("e2e-rate", float, 200.0, ""), ("e2e-seconds", float, 15.0, "")]
OPTIONS += [("e2e-warmup", float, 3.0, ""), ("e2e-senders", int, 200, "")]
OPTIONS += [("fanout-sockets", int, 2000, ""), ("per-conversation", int, 100, "")]
OPTIONS += [("fanout-rate", float, 30.0, "messages/s in all"), ("fanout-seconds", float, 10.0, "")]
OPTIONS += [("fanout-warmup", float, 2.0, ""), ("rounds", int, 3, "")]
OPTIONS += [("drain", float, 5.0, "max seconds to wait for stragglers")]
OPTIONS += [("clients", int, 2, "client processes for (b)"), ("idle-sockets", int, 1000, "")]


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
        env |= {"PARLEY_WS_HEARTBEAT_SECONDS": "600", "PARLEY_WS_CONNECTS_PER_MINUTE": "1000000"}
        env |= {"PARLEY_WS_MAX_SOCKETS_PER_USER": "1000000"}  # thousands, from one address
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
                    pids |= {a.name: a.process.pid for a in agents[:-1]}
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
    return report | {"seconds": round(time.monotonic() - started, 1)}


async def parts(rig: Rig, report: common.Report) -> None:
    """The conversations, then each part asked for."""
    args, servers = rig.args, rig.servers
    idle = -(-args.idle_sockets // args.per_conversation)
    count = args.e2e_senders + idle + args.fanout_sockets // args.per_conversation
    ids = await create_conversations(servers["parley"].base_url, token("bench-admin"), count)
    common.log(f"{len(ids)} conversations created")
    if "memory" in args.parts:
        report["memory"] = await part_memory(rig, ids[args.e2e_senders :][:idle])
    if "e2e" in args.parts:
        gc.collect()
        e = report["e2e"] = await part_e2e(rig, servers["parley"], ids[: args.e2e_senders])
        d, ack = e["latency"]["delivery"], e["latency"]["ack"]
        got = f"{e['received']}/{e['sent']} received, p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms"
        common.log(f"(a) {got}, ack p99 {ack['p99']:.1f} ms, cpu {e['cpu']}")
    if "fanout" in args.parts:
        report["fanout"] = await part_fanout(rig, ids[args.e2e_senders + idle :])


def targets(report: common.Report) -> common.Checks:
    out: common.Checks = []
    if (e := report["e2e"]) is not None:
        p99 = e["latency"]["delivery"]["p99"]
        what = f"(a) e2e p99 < 50 ms at {e['rate']:g} msg/s"
        out.append((what, f"{p99:.1f} ms", p99 < 50 and e["lost"] == 0))
    if fan := {f["server"]: f for f in report["fanout"]}:  # bare and parley
        bare, parley = fan["bare"], fan["parley"]
        ratio = parley["deliveries_per_s"] / bare["deliveries_per_s"]
        rates = f"{parley['deliveries_per_s']:,.0f} vs {bare['deliveries_per_s']:,.0f}"
        out.append(("(b) deliveries/s >= 70% of bare", f"{ratio:.0%} ({rates})", ratio >= 0.7))
        p99 = {f["server"]: f["latency"]["delivery"]["p99"] for f in (bare, parley)}
        rounds = [[r["latency"]["delivery"]["p99"] for r in f["rounds"]] for f in (bare, parley)]
        pairs = ", ".join(f"{p / b:.2f}x" for b, p in zip(*rounds, strict=False))
        factor = p99["parley"] / p99["bare"]
        measured = f"{factor:.2f}x ({p99['parley']:.1f} vs {p99['bare']:.1f} ms, all rounds "
        measured += f"pooled); round by round {pairs}"
        out.append(("(b) p99 < 2x bare p99", measured, factor < 2))
    memory = {(m["server"], m["compression"]): m for m in report["memory"]}
    for (server, offer), m in memory.items():
        if server == "parley":
            what, kib = f"(c) < 50 KiB per idle socket ({offer})", m["kib_per_socket"]
            out.append((what, f"{kib:.1f} KiB", kib < 50))
            took, bare = m["connect_seconds"], memory["bare", offer]["connect_seconds"]
            what, times = f"(c) connecting them <= 2x bare ({offer})", f"{took:.1f} vs {bare:.1f} s"
            cpu, bare_cpu = m["cpu_ms_per_socket"], memory["bare", offer]["cpu_ms_per_socket"]
            times += f"; server CPU {cpu:.2f} vs {bare_cpu:.2f} ms a socket"
            out.append((what, f"{took / bare:.2f}x ({times})", took <= 2 * bare))
    return out


def cpu(usage: dict[str, float], names: tuple[str, ...]) -> str:
    return " ".join(f"{n} {usage[n]:.0f}%" for n in names if n in usage)


def pq(q: dict[str, dict[str, float]], name: str) -> str:
    return f"{q[name]['p50']:.1f} / {q[name]['p99']:.1f}" if name in q else "-"


def render_e2e(e: dict[str, Any]) -> list[str]:
    via = "SEND_MESSAGE frame" if e["send_via"] == "ws" else "HTTP POST /api/messages"
    q, d = e["latency"], e["latency"]["delivery"]
    row = [str(e["sent"]), str(e["received"]), *(f"{v:.1f}" for k, v in d.items() if k != "n")]
    lines = [
        f"(a) end-to-end: {via} -> MESSAGE_CREATED at the conversation's subscriber "
        f"socket; {e['rate']:g} msg/s for {e['seconds']:g} s, {e['senders']} conversations",
        *common.plain_table(E2E_HEADER, [[*row, pq(q, "ack"), cpu(e["cpu"], E2E_CPU)]]),
    ]
    lines += [f"errors: {e['errors']}"] if e["errors"] else []
    split = f"send -> INSERT {pq(q, 'to_log')} ms; INSERT -> on NATS {pq(q, 'log_to_nats')} ms"
    split += f"; NATS -> socket {pq(q, 'nats_to_socket')} ms"
    lateness = f"generator lateness p99 {q['send_lag']['p99']:.1f} ms"
    lines.append(f"split p50/p99 (NATS tap process): {split}; {lateness}")
    windows = ", ".join(f"{x:.1f}" for x in e["window_p99_ms"])
    return [*lines, f"p99 of each 5 s of sends: {windows} ms", ""]


def render_fanout(report: common.Report) -> list[str]:
    s, rows = report["settings"], []
    for f in report["fanout"]:
        for r in f["rounds"]:
            cells = [f"{r['server']} #{r['round']}", f"{r['deliveries']}/{r['expected']}"]
            cells += [f"{r['deliveries_per_s']:,.0f}", *(pq(r["latency"], k) for k in SPLIT)]
            rows.append([*cells, cpu(r["cpu"], FANOUT_CPU)])
        cells = [f"{f['server']} all", f"{f['delivered_fraction']:.2%}"]
        cells += [f"{f['deliveries_per_s']:,.0f}", *(pq(f["latency"], k) for k in SPLIT)]
        end = f"max {f['latency']['delivery']['max']:.0f} ms; connect {f['connect_seconds']:.1f} s"
        rows.append([*cells, end])
    every = [r for f in report["fanout"] for r in f["rounds"]]
    closes = [f"{r['server']} #{r['round']}: {r['close_codes']}" for r in every if r["close_codes"]]
    lines = [
        f"(b) fan-out: {s['fanout_sockets']} sockets, {s['per_conversation']} per "
        f"conversation, {s['fanout_rate']:g} msg/s in all "
        f"({s['fanout_rate'] * s['per_conversation']:,.0f} deliveries/s offered), "
        f"{s['rounds']} x {s['fanout_seconds']:g} s per server, {s['clients']} client processes;"
        " latency from the POST's send time, spread from the message's first delivery",
        *common.plain_table(FANOUT_HEADER, rows),
    ]
    lines += ["sockets the servers closed: " + "; ".join(closes)] if closes else []
    return [*lines, ""]


def render_memory(report: common.Report) -> list[str]:
    rows = []
    for m in report["memory"]:
        before, after, closed = (f"{m[k] / 2**20:.1f} MiB" for k in RSS)
        rows.append([m["server"], m["compression"], str(m["connected"]), before, after])
        rows[-1] += [f"{m['kib_per_socket']:.1f} KiB", closed]
    lines = ["(c) memory per idle socket: server RSS before/after N sockets got READY"]
    lines += common.plain_table(MEMORY_HEADER, rows)
    sockets, compression = report["settings"]["fanout_sockets"], report["settings"]["compression"]
    for f in report["fanout"]:
        per = (f["rss_connected"] - f["rss_before"]) / 1024 / sockets
        check = f"(b)'s {sockets} sockets on {f['server']} ({compression}): {per:.1f} KiB each"
        lines.append(f"  cross-check, {check} {LOWER_BOUND}")
    return [*lines, ""]


def render(report: common.Report) -> str:
    m = report["machine"]
    lines = [
        "WebSocket edge benchmark (bench/ws.py)",
        f"date:    {report['date']}",
        f"command: {report['command']}",
        f"code:    {m['git']}",
        f"machine: {m['cpus']} CPUs, Python {m['python']}, load at start "
        f"{m['loadavg_at_start']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "client:  websockets asyncio client on uvloop, Python, on the same machine; "
        f"compression offered: {report['settings']['compression']}",
        "",
    ]
    lines += render_e2e(report["e2e"]) if report["e2e"] is not None else []
    lines += render_fanout(report) if report["fanout"] else []
    lines += render_memory(report) if report["memory"] else []
    lines += ["targets:"]
    lines += [f"  {'MET ' if ok else 'MISSED'}  {t}: {f}" for t, f, ok in targets(report)]
    return "\n".join([*lines, f"total runtime {report['seconds']:.0f} s"])


def main(argv: list[str] | None = None) -> int:
    what = "The WebSocket edge: end-to-end latency, fan-out, memory."
    p, offered = common.parser("bench.ws", what, OPTIONS), "what the clients offer in (a) and (b)"
    p.add_argument("--compression", choices=["deflate", "none"], default="deflate", help=offered)
    p.add_argument("--send-via", choices=["ws", "http"], default="ws")
    args: Any = p.parse_args(argv)
    return common.emit(common.run_main(run(args)), render, targets, args, "figure")


if __name__ == "__main__":
    sys.exit(main())
