"""bench.projections' figures, its targets, and the report it prints."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.common import markdown_table

TARGET_RELAY_SHARE = 0.70
TARGET_REBUILD_EPS = 20_000.0
TARGET_LAG_P99_MS = 100.0
RAW_VARIANTS = ("gather500", "publish_async", "window500")
REFERENCE_VARIANT = "gather500"


@dataclass
class RelayRound:
    round: int
    events: int
    relay_seconds: float
    relay_events_per_s: float
    raw_events_per_s: dict[str, float]
    relay_share: float
    """relay / the reference raw variant (gather500)."""
    relay_share_of_fastest: float


@dataclass
class RebuildResult:
    projection: str
    events: int
    seconds: float
    events_per_s: float
    rows: dict[str, int]


LIVE_ROWS = {
    "lag_both": "commit -> inbox AND timeline",
    "lag_inbox": "commit -> inbox",
    "lag_timeline": "commit -> timeline",
    "lag_relay": "commit -> relay acked+checkpointed",
    "command_latency": "handle() latency (issue -> commit)",
    "schedule_slip": "issue slip (vs schedule)",
    "loop_delay": "this loop's delay (10 ms ticker)",
}


@dataclass
class LiveResult:
    workers: str
    rate_target: float
    rate_achieved: float
    seconds: float
    conversations: int
    commands: int
    failed_commands: int
    not_reached: int
    latency: dict[str, dict[str, float]]
    """ms, by the names of LIVE_ROWS; ``schedule_slip``: how late each command
    was issued against its slot; ``loop_delay``: overshoot of a 10 ms sleep in
    this process's loop (measurement noise)."""
    checkpoint_commits: dict[str, int]
    """Checkpoint updates seen during the measured window, per consumer."""


@dataclass
class Report:
    date: str
    command: str
    cpus: int
    load_average: list[float]
    python: str
    loop: str
    versions: dict[str, str]
    postgresql: dict[str, str]
    nats_server: str
    settings: dict[str, Any]
    fill: dict[str, float] = field(default_factory=dict)
    relay: list[RelayRound] = field(default_factory=list)
    rebuild: list[RebuildResult] = field(default_factory=list)
    live: LiveResult | None = None
    machine_cpu_percent: dict[str, float] = field(default_factory=dict)
    """Busy share of all cores during each part, every process included."""
    load_average_end: list[float] = field(default_factory=list)
    total_seconds: float = 0.0

    def relay_median(self, key: str) -> float:
        return float(statistics.median(getattr(r, key) for r in self.relay))

    def raw_median(self, variant: str) -> float:
        return statistics.median(r.raw_events_per_s[variant] for r in self.relay)

    def targets(self) -> list[tuple[str, str, bool]]:
        out: list[tuple[str, str, bool]] = []
        if self.relay:
            share = self.relay_median("relay_share")
            out.append(
                (
                    f"relay >= {TARGET_RELAY_SHARE:.0%} of raw pipelined ({REFERENCE_VARIANT})",
                    f"{share:.0%} (median of {len(self.relay)} rounds)",
                    share >= TARGET_RELAY_SHARE,
                )
            )
        for r in self.rebuild:
            out.append(
                (
                    f"rebuild {r.projection} >= {TARGET_REBUILD_EPS:,.0f} events/s",
                    f"{r.events_per_s:,.0f} events/s",
                    r.events_per_s >= TARGET_REBUILD_EPS,
                )
            )
        if self.live:
            p99 = self.live.latency["lag_both"]["p99"]
            ok = p99 < TARGET_LAG_P99_MS and self.live.not_reached == 0
            out.append(
                (
                    f"live lag p99 < {TARGET_LAG_P99_MS:.0f} ms at {self.live.rate_target:g} cmd/s",
                    f"{p99:.1f} ms",
                    ok,
                )
            )
        return out


def render(report: Report) -> str:
    pg, v = report.postgresql, report.versions
    lines = [
        "Read side: relay vs raw JetStream publishing, rebuild, live projection lag",
        f"date:     {report.date}",
        f"command:  {report.command}",
        f"machine:  {report.cpus} CPUs (load average at start: "
        f"{' '.join(f'{x:.2f}' for x in report.load_average)}), Python {report.python}, "
        f"loop {report.loop}; PostgreSQL {pg.get('server_version')} (synchronous_commit="
        f"{pg.get('synchronous_commit')}, fsync={pg.get('fsync')}, shared_buffers="
        f"{pg.get('shared_buffers')}); nats-server {report.nats_server}; nats-py "
        f"{v['nats-py']}, asyncpg {v['asyncpg']}, msgspec {v['msgspec']}",
        f"fill:     {report.fill.get('events', 0):,.0f} events appended at "
        f"{report.fill.get('events_per_s', 0):,.0f} events/s (100-event appends, concurrent)",
    ]
    if report.relay:
        variants = list(report.relay[0].raw_events_per_s)
        lines += [
            "",
            f"(a) {report.relay[0].events:,} events, log -> JetStream (file storage), "
            f"events/s per round and median of {len(report.relay)}",
            "",
        ]
        rows = [
            [
                "relay (JetStreamRelay.run from 0)",
                " / ".join(f"{r.relay_events_per_s:,.0f}" for r in report.relay),
                f"{report.relay_median('relay_events_per_s'):,.0f}",
            ]
        ]
        for variant in variants:
            rows.append(
                [
                    f"raw {variant}" + (" (reference)" if variant == REFERENCE_VARIANT else ""),
                    " / ".join(f"{r.raw_events_per_s[variant]:,.0f}" for r in report.relay),
                    f"{report.raw_median(variant):,.0f}",
                ]
            )
        rows.append(
            [
                f"relay / raw {REFERENCE_VARIANT}",
                " / ".join(f"{r.relay_share:.0%}" for r in report.relay),
                f"{report.relay_median('relay_share'):.0%}",
            ]
        )
        rows.append(
            [
                "relay / fastest raw",
                " / ".join(f"{r.relay_share_of_fastest:.0%}" for r in report.relay),
                f"{report.relay_median('relay_share_of_fastest'):.0%}",
            ]
        )
        lines += markdown_table(["what", "per round", "median"], rows)
    if report.rebuild:
        lines += ["", f"(b) rebuild() over {report.rebuild[0].events:,} events", ""]
        lines += markdown_table(
            ["projection", "seconds", "events/s", "rows"],
            [
                [
                    r.projection,
                    f"{r.seconds:.2f}",
                    f"{r.events_per_s:,.0f}",
                    ", ".join(f"{t} {n:,}" for t, n in r.rows.items()),
                ]
                for r in report.rebuild
            ],
        )
    if (live := report.live) is not None:
        lines += [
            "",
            f"(c) live lag: SendMessage via CommandHandler at {live.rate_target:g}/s "
            f"(achieved {live.rate_achieved:,.1f}/s) over {live.conversations} conversations "
            f"for {live.seconds:g} s; workers: {live.workers}",
            "    lag = NOTIFY of the checkpoint commit reaching the command's position, "
            "received here - handle() returned",
            "",
        ]
        rows = []
        for name, label in LIVE_ROWS.items():
            q = live.latency[name]
            rows.append(
                [label, f"{q['n']:,}", *(f"{q[k]:.1f}" for k in ("p50", "p90", "p99", "max"))]
            )
        lines += markdown_table(["what", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows)
        commits = ", ".join(f"{n} {c:,}" for n, c in live.checkpoint_commits.items())
        lines.append(
            f"commands {live.commands:,}, failed {live.failed_commands}, never reached "
            f"{live.not_reached}; checkpoint commits in the window: {commits}"
        )
    lines += ["", "targets:"]
    lines += [f"  [{'met' if ok else 'MISSED'}] {t}: {m}" for t, m, ok in report.targets()]
    busy = ", ".join(f"{k} {v:.0f}%" for k, v in report.machine_cpu_percent.items())
    lines.append(
        f"machine CPU busy (all processes, all cores) during: {busy}; load average at end: "
        + " ".join(f"{x:.2f}" for x in report.load_average_end)
    )
    lines.append(f"total run time: {report.total_seconds:g} s")
    return "\n".join(lines)
