"""The WebSocket edge: end-to-end latency, fan-out against a bare Litestar
broadcast, and memory per idle socket (what is measured: docs/BENCHMARKS.md,
"WebSocket edge").

Run from the repository root (either form works)::

    .venv/bin/python -m bench.ws [--json]
    .venv/bin/python bench/ws.py --parts fanout --rounds 3
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict

from bench import common
from bench.common import plain_table
from bench.ws_e2e import E2EResult
from bench.ws_memory import MemoryResult
from bench.ws_run import Report, run

E2E_CPU = ("serve", "worker", "pg", "bench", "rest", "machine")
FANOUT_CPU = ("serve", "worker", "pg", "bare", "client0", "client1", "rest", "machine")
SPLIT = ("delivery", "spread", "post", "to_log", "log_to_nats", "nats_to_socket")
FANOUT_HEADER = ["server", "delivered", "deliv/s", "latency p50/p99", "spread", "POST->response"]
FANOUT_HEADER += ["POST->INSERT", "INSERT->NATS", "NATS->socket", "CPU (% of one core)"]
MEMORY_HEADER = ["server", "compression", "sockets", "RSS before", "RSS after", "per socket"]
MEMORY_HEADER += ["after close"]


def _cpu(usage: dict[str, float], names: Sequence[str]) -> str:
    return " ".join(f"{n} {usage[n]:.0f}%" for n in names if n in usage)


def _pq(q: dict[str, dict[str, float]], name: str) -> str:
    return f"{q[name]['p50']:.1f} / {q[name]['p99']:.1f}" if name in q else "-"


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def render_e2e(e: E2EResult) -> list[str]:
    via = "SEND_MESSAGE frame" if e.send_via == "ws" else "HTTP POST /api/messages"
    q = e.latency
    d = q["delivery"]
    row = [str(e.sent), str(e.received), *(f"{d[k]:.1f}" for k in ("p50", "p90", "p99", "max"))]
    row += [_pq(q, "ack"), _cpu(e.cpu, E2E_CPU)]
    header = ["sent", "received", "p50 ms", "p90 ms", "p99 ms", "max ms", "ACK p50/p99 ms", "CPU"]
    lines = [
        f"(a) end-to-end: {via} -> MESSAGE_CREATED at the conversation's subscriber "
        f"socket; {e.rate:g} msg/s for {e.seconds:g} s, {e.senders} conversations",
        *plain_table(header, [row]),
    ]
    if e.errors:
        lines.append(f"errors: {e.errors}")
    lines.append(
        f"split p50/p99 (NATS tap process): send -> INSERT {_pq(q, 'to_log')} ms; "
        f"INSERT -> on NATS {_pq(q, 'log_to_nats')} ms; NATS -> socket "
        f"{_pq(q, 'nats_to_socket')} ms; generator lateness p99 {q['send_lag']['p99']:.1f} ms"
    )
    windows = ", ".join(f"{x:.1f}" for x in e.window_p99_ms)
    return [*lines, f"p99 of each 5 s of sends: {windows} ms", ""]


def render_fanout(report: Report) -> list[str]:
    s = report.settings
    rows = []
    for f in report.fanout:
        for r in f.rounds:
            cells = [f"{r.server} #{r.round}", f"{r.deliveries}/{r.expected}"]
            cells.append(f"{r.deliveries_per_s:,.0f}")
            rows.append([*cells, *(_pq(r.latency, k) for k in SPLIT), _cpu(r.cpu, FANOUT_CPU)])
        cells = [f"{f.server} all", f"{f.delivered_fraction:.2%}", f"{f.deliveries_per_s:,.0f}"]
        end = f"max {f.latency['delivery']['max']:.0f} ms; connect {f.connect_seconds:.1f} s"
        rows.append([*cells, *(_pq(f.latency, k) for k in SPLIT), end])
    every = [r for f in report.fanout for r in f.rounds]
    closes = [f"{r.server} #{r.round}: {r.close_codes}" for r in every if r.close_codes]
    lines = [
        f"(b) fan-out: {s['fanout_sockets']} sockets, {s['per_conversation']} per "
        f"conversation, {s['fanout_rate']:g} msg/s in all "
        f"({s['fanout_rate'] * s['per_conversation']:,.0f} deliveries/s offered), "
        f"{s['rounds']} x {s['fanout_seconds']:g} s per server, {s['clients']} client processes;"
        " latency from the POST's send time, spread from the message's first delivery",
        *plain_table(FANOUT_HEADER, rows),
    ]
    if closes:
        lines.append("sockets the servers closed: " + "; ".join(closes))
    return [*lines, ""]


def render_memory(report: Report) -> list[str]:
    def per(m: MemoryResult) -> list[str]:
        return [f"{m.kib_per_socket:.1f} KiB", _mib(m.rss_after_close)]

    rows = [
        [m.server, m.compression, str(m.connected), _mib(m.rss_before), _mib(m.rss_after), *per(m)]
        for m in report.memory
    ]
    lines = ["(c) memory per idle socket: server RSS before/after N sockets got READY"]
    lines += plain_table(MEMORY_HEADER, rows)
    sockets, compression = report.settings["fanout_sockets"], report.settings["compression"]
    for f in report.fanout:
        per = (f.rss_connected - f.rss_before) / 1024 / sockets
        lines.append(
            f"  cross-check, (b)'s {sockets} sockets on {f.server} ({compression}): {per:.1f} "
            "KiB each (a lower bound: that process reuses memory freed by earlier parts)"
        )
    return [*lines, ""]


def render(report: Report) -> str:
    m = report.machine
    lines = [
        "WebSocket edge benchmark (bench/ws.py)",
        f"date:    {report.date}",
        f"command: {report.command}",
        f"code:    {m['git']}",
        f"machine: {m['cpus']} CPUs, Python {m['python']}, load at start "
        f"{m['loadavg_at_start']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "client:  websockets asyncio client on uvloop, Python, on the same machine; "
        f"compression offered: {report.settings['compression']}",
        "",
    ]
    lines += render_e2e(report.e2e) if report.e2e is not None else []
    lines += render_fanout(report) if report.fanout else []
    lines += render_memory(report) if report.memory else []
    lines += ["targets:"]
    lines += [f"  {'MET ' if ok else 'MISSED'}  {t}: {f}" for t, f, ok in report.targets()]
    return "\n".join([*lines, f"total runtime {report.seconds:.0f} s"])


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = common.parser("bench.ws", "The WebSocket edge: end-to-end latency, fan-out, memory.")
    p.add_argument(
        "--parts", default="memory,e2e,fanout", type=lambda s: set(s.split(",")), help="which parts"
    )
    p.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="what the clients offer in (a) and (b)",
    )
    p.add_argument("--e2e-rate", type=float, default=200.0)
    p.add_argument("--e2e-seconds", type=float, default=15.0)
    p.add_argument("--e2e-warmup", type=float, default=3.0)
    p.add_argument("--e2e-senders", type=int, default=200)
    p.add_argument("--send-via", choices=["ws", "http"], default="ws")
    p.add_argument("--fanout-sockets", type=int, default=2000)
    p.add_argument("--per-conversation", type=int, default=100)
    p.add_argument("--fanout-rate", type=float, default=30.0, help="messages/s in all")
    p.add_argument("--fanout-seconds", type=float, default=10.0)
    p.add_argument("--fanout-warmup", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--drain", type=float, default=5.0, help="max seconds to wait for stragglers")
    p.add_argument("--clients", type=int, default=2, help="client processes for (b)")
    p.add_argument("--idle-sockets", type=int, default=1000)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    report = common.run_main(run(args, argv))
    if args.json:
        out = asdict(report)
        out["targets"] = [
            {"target": what, "figure": figure, "met": met} for what, figure, met in report.targets()
        ]
        print(json.dumps(out, indent=2, default=str))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
