"""The read side: relay vs raw JetStream publishing, rebuild, live lag (docs/BENCHMARKS.md)."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import statistics

from bench import common
from bench.projections_run import RAW_VARIANTS, REFERENCE_VARIANT, run

LIVE_ROWS = {"lag_both": "commit -> inbox AND timeline", "lag_inbox": "commit -> inbox"}
LIVE_ROWS |= {"lag_timeline": "commit -> timeline"}
LIVE_ROWS |= {"lag_relay": "commit -> relay acked+checkpointed"}
LIVE_ROWS |= {"command_latency": "handle() latency (issue -> commit)"}
LIVE_ROWS |= {"schedule_slip": "issue slip (vs schedule)"}
LIVE_ROWS |= {"loop_delay": "this loop's delay (10 ms ticker)"}
LIVE_HEADING = (  # two lines
    "(c) live lag: SendMessage via CommandHandler at {rate_target:g}/s (achieved "
    "{rate_achieved:,.1f}/s) over {conversations} conversations for {seconds:g} s; workers: "
    "{workers}\n    lag = NOTIFY of the checkpoint commit reaching the command's position, "
    "received here - handle() returned"
)
OPTIONS: list[common.Option] = [("events", int, 50_000, "(a) events to relay")]
OPTIONS += [("rebuild-events", int, 200_000, "(b) events in the log to rebuild")]
OPTIONS += [("rounds", int, 3, "(a) relay and raw rounds"), ("conversations", int, 100, "(c)")]
RAW = ",".join(RAW_VARIANTS)
OPTIONS += [("raw-variants", common.csv(str), list(RAW_VARIANTS), f"(a) from {RAW}")]
OPTIONS += [("rate", float, 500.0, "(c) commands per second")]
OPTIONS += [("seconds", float, 20.0, "(c) measured seconds")]
OPTIONS += [("warmup", float, 3.0, "(c) unmeasured seconds")]
OPTIONS += [("sealed", bool, False, "personal data sealed, a key per client (as shipped)")]
PARTS = ("relay", "rebuild", "live")
OPTIONS += [("parts", common.csv(str), list(PARTS), "from relay,rebuild,live")]


def targets(report: common.Report) -> common.Checks:
    out: common.Checks = []
    if relay := report["relay"]:
        share = statistics.median(r["relay_share"] for r in relay)
        what = f"relay >= 70% of raw pipelined ({REFERENCE_VARIANT})"
        out.append((what, f"{share:.0%} (median of {len(relay)} rounds)", share >= 0.7))
    for r in report["rebuild"]:
        what, rate = f"rebuild {r['projection']} >= 20,000 events/s", r["events_per_s"]
        out.append((what, f"{rate:,.0f} events/s", rate >= 20_000))
    if live := report["live"]:
        p99 = live["latency"]["lag_both"]["p99"]
        what = f"live lag p99 < 100 ms at {live['rate_target']:g} cmd/s"
        out.append((what, f"{p99:.1f} ms", p99 < 100 and live["not_reached"] == 0))
    return out


def render(report: common.Report) -> str:
    pg, v, relay, fill = report["postgresql"], report["versions"], report["relay"], report["fill"]
    lines = [
        "Read side: relay vs raw JetStream publishing, rebuild, live projection lag",
        f"date:     {report['date']}",
        f"command:  {report['command']}",
        f"machine:  {report['cpus']} CPUs (load average at start: "
        f"{' '.join(f'{x:.2f}' for x in report['load_average'])}), Python {report['python']}, "
        f"loop {report['loop']}; PostgreSQL {pg.get('server_version')} (synchronous_commit="
        f"{pg.get('synchronous_commit')}, fsync={pg.get('fsync')}, shared_buffers="
        f"{pg.get('shared_buffers')}); nats-server {report['nats_server']}; nats-py "
        f"{v['nats-py']}, asyncpg {v['asyncpg']}, msgspec {v['msgspec']}",
        f"fill:     {fill.get('events', 0):,.0f} events appended at "
        f"{fill.get('events_per_s', 0):,.0f} events/s (100-event appends, concurrent)",
    ]
    if relay:
        heading = f"(a) {relay[0]['events']:,} events, log -> JetStream (file storage), events/s"
        lines += ["", f"{heading} per round and median of {len(relay)}", ""]
        relayed = [r["relay_events_per_s"] for r in relay]
        rounds = {"relay (JetStreamRelay.run from 0)": (relayed, ",.0f")}
        for variant in relay[0]["raw_events_per_s"]:
            label = f"raw {variant}" + (" (reference)" if variant == REFERENCE_VARIANT else "")
            rounds[label] = ([r["raw_events_per_s"][variant] for r in relay], ",.0f")
        rounds[f"relay / raw {REFERENCE_VARIANT}"] = ([r["relay_share"] for r in relay], ".0%")
        rounds["relay / fastest raw"] = ([r["relay_share_of_fastest"] for r in relay], ".0%")
        table = [
            [label, " / ".join(format(x, f) for x in xs), format(statistics.median(xs), f)]
            for label, (xs, f) in rounds.items()
        ]
        lines += common.markdown_table(["what", "per round", "median"], table)
    if rebuilt := report["rebuild"]:
        lines += ["", f"(b) rebuild() over {rebuilt[0]['events']:,} events", ""]
        rows = [[r["projection"], f"{r['seconds']:.2f}", f"{r['events_per_s']:,.0f}", ", ".join(
            f"{t} {n:,}" for t, n in r["rows"].items())] for r in rebuilt]  # fmt: skip
        lines += common.markdown_table(["projection", "seconds", "events/s", "rows"], rows)
    if (live := report["live"]) is not None:
        lines += ["", LIVE_HEADING.format(**live), ""]
        q = live["latency"]
        rows = [[label, f"{q[k]['n']:,}", *(f"{q[k][x]:.1f}" for x in ("p50", "p90", "p99", "max"))]
                for k, label in LIVE_ROWS.items()]  # fmt: skip
        lines += common.markdown_table(["what", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows)
        commits = ", ".join(f"{n} {c:,}" for n, c in live["checkpoint_commits"].items())
        lines.append(f"commands {live['commands']:,}, failed {live['failed_commands']}, never"
                     f" reached {live['not_reached']}; checkpoint commits in the window: "
                     f"{commits}")  # fmt: skip
    lines += ["", "targets:"]
    lines += [f"  [{'met' if ok else 'MISSED'}] {t}: {m}" for t, m, ok in targets(report)]
    busy = ", ".join(f"{k} {v:.0f}%" for k, v in report["machine_cpu_percent"].items())
    end = " ".join(f"{x:.2f}" for x in report["load_average_end"])
    lines.append(f"machine CPU busy (all processes, all cores) during: {busy}; load average at "
                 f"end: {end}")  # fmt: skip
    lines.append(f"total run time: {report['total_seconds']:g} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    what = "Relay vs raw JetStream publishing, rebuild throughput, live lag."
    p = common.parser("bench.projections", what, OPTIONS, loop=True)
    args = p.parse_args(argv)
    for given, known in ((args.raw_variants, RAW_VARIANTS), (args.parts, PARTS)):
        if unknown := set(given) - set(known):
            p.error(f"unknown: {', '.join(sorted(unknown))} (known: {', '.join(known)})")
    if args.rebuild_events < 200_000:
        common.log("note: the acceptance asks for a rebuild over at least 200,000 events")
    return common.emit(common.run_main(run(args), args.loop), render, targets, args)


if __name__ == "__main__":
    sys.exit(main())
