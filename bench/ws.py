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

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bench import common
from bench.common import plain_table
from bench.ws_run import Report, run


def _cpu(usage: dict[str, float], names: Sequence[str]) -> str:
    return " ".join(f"{n} {usage.get(n, float('nan')):.0f}%" for n in names if n in usage)


def render(report: Report) -> str:
    lines = [
        "WebSocket edge benchmark (bench/ws.py)",
        f"date:    {report.date}",
        f"command: {report.command}",
        f"code:    {report.machine['git']}",
        f"machine: {report.machine['cpus']} CPUs, Python {report.machine['python']}, "
        f"load at start {report.machine['loadavg_at_start']}, "
        + ", ".join(f"{k} {v}" for k, v in report.machine["versions"].items()),
        f"client:  websockets asyncio client on uvloop, Python, on the same machine; "
        f"compression offered: {report.settings['compression']}",
        "",
    ]
    if report.e2e is not None:
        e = report.e2e
        via = "SEND_MESSAGE frame" if e.send_via == "ws" else "HTTP POST /api/messages"
        lines += [
            f"(a) end-to-end: {via} -> MESSAGE_CREATED at the conversation's subscriber "
            f"socket; {e.rate:g} msg/s for {e.seconds:g} s, {e.senders} conversations",
            *plain_table(
                [
                    "sent",
                    "received",
                    "p50 ms",
                    "p90 ms",
                    "p99 ms",
                    "max ms",
                    "ACK p50/p99 ms",
                    "CPU",
                ],
                [
                    [
                        str(e.sent),
                        str(e.received),
                        f"{e.p50_ms:.1f}",
                        f"{e.p90_ms:.1f}",
                        f"{e.p99_ms:.1f}",
                        f"{e.max_ms:.1f}",
                        f"{e.ack_p50_ms:.1f} / {e.ack_p99_ms:.1f}",
                        _cpu(e.cpu, ["serve", "worker", "pg", "bench", "rest", "machine"]),
                    ]
                ],
            ),
        ]
        if e.errors:
            lines.append(f"errors: {e.errors}")
        lines.append(
            f"split p50/p99 (NATS tap process): send -> INSERT "
            f"{e.to_log_p50_ms:.1f} / {e.to_log_p99_ms:.1f} ms; INSERT -> on NATS "
            f"{e.log_to_nats_p50_ms:.1f} / {e.log_to_nats_p99_ms:.1f} ms; NATS -> socket "
            f"{e.nats_to_socket_p50_ms:.1f} / {e.nats_to_socket_p99_ms:.1f} ms; "
            f"generator lateness p99 {e.send_lag_p99_ms:.1f} ms"
        )
        lines.append(
            "p99 of each 5 s of sends: " + ", ".join(f"{x:.1f}" for x in e.window_p99_ms) + " ms"
        )
        lines.append("")
    if report.fanout:
        s = report.settings
        lines.append(
            f"(b) fan-out: {s['fanout_sockets']} sockets, {s['per_conversation']} per "
            f"conversation, {s['fanout_rate']:g} msg/s in all "
            f"({s['fanout_rate'] * s['per_conversation']:,.0f} deliveries/s offered), "
            f"{s['rounds']} x {s['fanout_seconds']:g} s per server, "
            f"{s['clients']} client processes; "
            "latency from the POST's send time, spread from the message's first delivery"
        )
        rows = []

        def pq(q: dict[str, dict[str, float]], name: str) -> str:
            if name not in q:
                return "-"
            return f"{q[name]['p50']:.1f} / {q[name]['p99']:.1f}"

        for f in report.fanout:
            for r in f.rounds:
                rows.append(
                    [
                        f"{r.server} #{r.round}",
                        f"{r.deliveries}/{r.expected}",
                        f"{r.deliveries_per_s:,.0f}",
                        pq(r.latency, "delivery"),
                        pq(r.latency, "spread"),
                        pq(r.latency, "post"),
                        pq(r.latency, "to_log"),
                        pq(r.latency, "log_to_nats"),
                        pq(r.latency, "nats_to_socket"),
                        _cpu(
                            r.cpu,
                            [
                                "serve",
                                "worker",
                                "pg",
                                "bare",
                                "client0",
                                "client1",
                                "rest",
                                "machine",
                            ],
                        ),
                    ]
                )
            rows.append(
                [
                    f"{f.server} all",
                    f"{f.delivered_fraction:.2%}",
                    f"{f.deliveries_per_s:,.0f}",
                    pq(f.latency, "delivery"),
                    pq(f.latency, "spread"),
                    pq(f.latency, "post"),
                    pq(f.latency, "to_log"),
                    pq(f.latency, "log_to_nats"),
                    pq(f.latency, "nats_to_socket"),
                    f"max {f.latency['delivery']['max']:.0f} ms; connect {f.connect_seconds:.1f} s",
                ]
            )
        closes = [
            f"{r.server} #{r.round}: {r.close_codes}"
            for f in report.fanout
            for r in f.rounds
            if r.close_codes
        ]
        lines += plain_table(
            [
                "server",
                "delivered",
                "deliv/s",
                "latency p50/p99",
                "spread",
                "POST->response",
                "POST->INSERT",
                "INSERT->NATS",
                "NATS->socket",
                "CPU (% of one core)",
            ],
            rows,
        )
        if closes:
            lines.append("sockets the servers closed: " + "; ".join(closes))
        lines.append("")
    if report.memory:
        lines.append("(c) memory per idle socket: server RSS before/after N sockets got READY")
        lines += plain_table(
            [
                "server",
                "compression",
                "sockets",
                "RSS before",
                "RSS after",
                "per socket",
                "after close",
            ],
            [
                [
                    m.server,
                    m.compression,
                    str(m.connected),
                    f"{m.rss_before / 2**20:.1f} MiB",
                    f"{m.rss_after / 2**20:.1f} MiB",
                    f"{m.kib_per_socket:.1f} KiB",
                    f"{m.rss_after_close / 2**20:.1f} MiB",
                ]
                for m in report.memory
            ],
        )
        for f in report.fanout:
            per = (f.rss_connected - f.rss_before) / 1024 / report.settings["fanout_sockets"]
            lines.append(
                f"  cross-check, (b)'s {report.settings['fanout_sockets']} sockets on {f.server} "
                f"({report.settings['compression']}): {per:.1f} KiB each (a lower bound: "
                "that process reuses memory freed by earlier parts)"
            )
        lines.append("")
    lines.append("targets:")
    for what, figure, met in report.targets():
        lines.append(f"  {'MET ' if met else 'MISSED'}  {what}: {figure}")
    lines.append(f"total runtime {report.seconds:.0f} s")
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> Any:
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
