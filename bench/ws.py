"""The WebSocket edge: e2e latency, fan-out against a bare broadcast, memory per socket."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typing import Any

from bench import common
from bench.ws_run import run

E2E_CPU = ("serve", "worker", "pg", "bench", "rest", "machine")
FANOUT_CPU = ("serve", "worker", "pg", "bare", "client0", "client1", "rest", "machine")
SPLIT = ("delivery", "spread", "post", "to_log", "log_to_nats", "nats_to_socket")
E2E_HEADER = ["sent", "received", "p50 ms", "p90 ms", "p99 ms", "max ms", "ACK p50/p99 ms", "CPU"]
FANOUT_HEADER = ["server", "delivered", "deliv/s", "latency p50/p99", "spread", "POST->response"]
FANOUT_HEADER += ["POST->INSERT", "INSERT->NATS", "NATS->socket", "CPU (% of one core)"]
MEMORY_HEADER = ["server", "compression", "sockets", "RSS before", "RSS after", "per socket"]
MEMORY_HEADER += ["after close"]
OPTIONS: list[common.Option] = [("parts", lambda s: set(s.split(",")), "memory,e2e,fanout", "")]
OPTIONS += [("e2e-rate", float, 200.0, ""), ("e2e-seconds", float, 15.0, "")]
OPTIONS += [("e2e-warmup", float, 3.0, ""), ("e2e-senders", int, 200, "")]
OPTIONS += [("fanout-sockets", int, 2000, ""), ("per-conversation", int, 100, "")]
OPTIONS += [("fanout-rate", float, 30.0, "messages/s in all"), ("fanout-seconds", float, 10.0, "")]
OPTIONS += [("fanout-warmup", float, 2.0, ""), ("rounds", int, 3, "")]
OPTIONS += [("drain", float, 5.0, "max seconds to wait for stragglers")]
OPTIONS += [("clients", int, 2, "client processes for (b)"), ("idle-sockets", int, 1000, "")]


def targets(report: common.Report) -> common.Checks:
    out: common.Checks = []
    if (e := report["e2e"]) is not None:
        p99 = e["latency"]["delivery"]["p99"]
        what = f"(a) e2e p99 < 50 ms at {e['rate']:g} msg/s"
        out.append((what, f"{p99:.1f} ms", p99 < 50 and e["lost"] == 0))
    fan = {f["server"]: f for f in report["fanout"]}
    if "bare" in fan and "parley" in fan:
        bare, parley = fan["bare"], fan["parley"]
        ratio = parley["deliveries_per_s"] / bare["deliveries_per_s"]
        rates = f"{parley['deliveries_per_s']:,.0f} vs {bare['deliveries_per_s']:,.0f}"
        out.append(("(b) deliveries/s >= 70% of bare", f"{ratio:.0%} ({rates})", ratio >= 0.7))
        p99 = {f["server"]: f["latency"]["delivery"]["p99"] for f in (bare, parley)}
        pairs = ", ".join(
            f"{p['latency']['delivery']['p99'] / b['latency']['delivery']['p99']:.2f}x"
            for b, p in zip(bare["rounds"], parley["rounds"], strict=False)
        )
        factor = p99["parley"] / p99["bare"]
        measured = f"{factor:.2f}x ({p99['parley']:.1f} vs {p99['bare']:.1f} ms, all rounds "
        measured += f"pooled); round by round {pairs}"
        out.append(("(b) p99 < 2x bare p99", measured, factor < 2))
    for m in report["memory"]:
        if m["server"] == "parley":
            what, kib = f"(c) < 50 KiB per idle socket ({m['compression']})", m["kib_per_socket"]
            out.append((what, f"{kib:.1f} KiB", kib < 50))
    return out


def cpu(usage: dict[str, float], names: tuple[str, ...]) -> str:
    return " ".join(f"{n} {usage[n]:.0f}%" for n in names if n in usage)


def pq(q: dict[str, dict[str, float]], name: str) -> str:
    return f"{q[name]['p50']:.1f} / {q[name]['p99']:.1f}" if name in q else "-"


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def render_e2e(e: dict[str, Any]) -> list[str]:
    via = "SEND_MESSAGE frame" if e["send_via"] == "ws" else "HTTP POST /api/messages"
    q, d = e["latency"], e["latency"]["delivery"]
    row = [str(e["sent"]), str(e["received"]), *(f"{d[k]:.1f}" for k in ("p50", "p90", "p99"))]
    row += [f"{d['max']:.1f}"]
    lines = [
        f"(a) end-to-end: {via} -> MESSAGE_CREATED at the conversation's subscriber "
        f"socket; {e['rate']:g} msg/s for {e['seconds']:g} s, {e['senders']} conversations",
        *common.plain_table(E2E_HEADER, [[*row, pq(q, "ack"), cpu(e["cpu"], E2E_CPU)]]),
    ]
    if e["errors"]:
        lines.append(f"errors: {e['errors']}")
    lines.append(
        f"split p50/p99 (NATS tap process): send -> INSERT {pq(q, 'to_log')} ms; "
        f"INSERT -> on NATS {pq(q, 'log_to_nats')} ms; NATS -> socket "
        f"{pq(q, 'nats_to_socket')} ms; generator lateness p99 {q['send_lag']['p99']:.1f} ms"
    )
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
    if closes:
        lines.append("sockets the servers closed: " + "; ".join(closes))
    return [*lines, ""]


def render_memory(report: common.Report) -> list[str]:
    rows = []
    for m in report["memory"]:
        rows.append([m["server"], m["compression"], str(m["connected"])])
        rows[-1] += [mib(m["rss_before"]), mib(m["rss_after"]), f"{m['kib_per_socket']:.1f} KiB"]
        rows[-1] += [mib(m["rss_after_close"])]
    lines = ["(c) memory per idle socket: server RSS before/after N sockets got READY"]
    lines += common.plain_table(MEMORY_HEADER, rows)
    sockets, compression = report["settings"]["fanout_sockets"], report["settings"]["compression"]
    for f in report["fanout"]:
        per = (f["rss_connected"] - f["rss_before"]) / 1024 / sockets
        lines.append(
            f"  cross-check, (b)'s {sockets} sockets on {f['server']} ({compression}): {per:.1f} "
            "KiB each (a lower bound: that process reuses memory freed by earlier parts)"
        )
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
    report = common.run_main(run(args))
    return common.emit(report, render, targets, args, "figure")


if __name__ == "__main__":
    sys.exit(main())
