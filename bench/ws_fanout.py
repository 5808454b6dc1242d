"""(b) fan-out: one POST, a frame to every socket of the conversation,
Parley against the bare broadcast, round by round."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Proc, log, summary
from bench.ws_http import drive
from bench.ws_procs import (
    ClientProc,
    CpuMeter,
    Tap,
    all_clients,
    compression_of,
    settled_rss,
    token,
    ws_url,
)


class Samples:
    """Named latency samples (ms) of one round; the result pools the rounds."""

    def __init__(self) -> None:
        self.named: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, values: Sequence[float]) -> None:
        self.named[name].extend(values)

    def quantiles(self) -> dict[str, dict[str, float]]:
        return {name: summary(v) for name, v in self.named.items()}


@dataclass
class FanoutRound:
    server: str
    round: int
    messages: int
    posted_ok: int
    deliveries: int
    expected: int
    seconds: float
    deliveries_per_s: float
    latency: dict[str, dict[str, float]]
    """``delivery`` (POST send -> socket), ``spread`` (first delivery of the
    message -> this one), ``post`` (POST -> its response); Parley also
    ``to_log`` (POST send -> INSERT) and ``log_to_nats`` (INSERT -> the event
    on NATS), per message, and ``nats_to_socket``, per delivery."""
    cpu: dict[str, float]
    close_codes: dict[str, int]


@dataclass
class FanoutResult:
    server: str
    rounds: list[FanoutRound]
    deliveries_per_s: float
    delivered_fraction: float
    latency: dict[str, dict[str, float]]
    rss_before: int
    rss_connected: int
    connect_seconds: float

    @property
    def p50_ms(self) -> float:
        return self.latency["delivery"]["p50"]

    @property
    def p99_ms(self) -> float:
        return self.latency["delivery"]["p99"]


async def fanout_round(
    server: str,
    round_number: int,
    proc: Proc,
    clients: Sequence[ClientProc],
    conversations: Sequence[str],
    args: Any,
    cpu: CpuMeter,
    tap: Tap,
    workdir: Path,
    pooled: Samples,
) -> FanoutRound:
    tag = f"{server}{round_number}"
    await all_clients(clients, op="tag", tag=tag)
    jwt = token("fanout-driver") if server == "parley" else None
    path = "/api/messages" if server == "parley" else "/broadcast"
    driven = await drive(
        proc.port,
        path,
        jwt,
        conversations,
        args.fanout_rate,
        args.fanout_warmup,
        args.fanout_seconds,
        tag,
        cpu.start,
    )
    sent_at = driven.sent_at
    expected = driven.ok * args.per_conversation
    deadline = time.monotonic() + args.drain
    while True:  # until every delivery arrived, or the drain time is over
        await asyncio.sleep(0.25)
        counts = await all_clients(clients, op="count")
        if sum(a["deliveries"] for a in counts) >= expected or time.monotonic() > deadline:
            break
    usage = cpu.stop()
    paths = [workdir / f"{c.name}-{tag}.json" for c in clients]
    answers = list(
        await asyncio.gather(
            *(c.request(op="collect", path=str(p)) for c, p in zip(clients, paths, strict=True))
        )
    )
    await tap.sync()
    by_message: dict[int, list[int]] = defaultdict(list)  # latencies in µs
    for path_ in paths:
        for number, lats in json.loads(path_.read_text()).items():
            by_message[int(number)].extend(lats)
        path_.unlink()
    samples = Samples()
    last_delivery = 0
    for number, lats in by_message.items():
        first = min(lats)
        samples.add("delivery", [lat / 1000 for lat in lats])
        samples.add("spread", [(lat - first) / 1000 for lat in lats])
        content = f"{tag}|{number}|{sent_at[number]}"
        split, at_nats = tap.split(content, sent_at[number]), tap.arrived(content)
        if split is not None and at_nats is not None:
            to_nats = (at_nats - sent_at[number]) / 1e6
            samples.add("to_log", [split[0]])
            samples.add("log_to_nats", [split[1]])
            samples.add("nats_to_socket", [lat / 1000 - to_nats for lat in lats])
        last_delivery = max(last_delivery, sent_at[number] + max(lats) * 1000)
    samples.add("post", driven.post_ms)
    span = (last_delivery - min(sent_at.values())) / 1e9 if last_delivery else float("nan")
    deliveries = len(samples.named["delivery"])
    close_codes: dict[str, int] = defaultdict(int)
    for answer in answers:
        for code, count in answer["close_codes"].items():
            close_codes[code] += count
    if driven.failures:
        log(f"(b) {server} round {round_number}: POST failures {driven.failures}")
    result = FanoutRound(
        server=server,
        round=round_number,
        messages=len(sent_at),
        posted_ok=driven.ok,
        deliveries=deliveries,
        expected=expected,
        seconds=round(span, 3),
        deliveries_per_s=deliveries / span if span else float("nan"),
        latency=samples.quantiles(),
        cpu=usage,
        close_codes=dict(close_codes),
    )
    for name, values in samples.named.items():
        pooled.add(name, values)
    q = result.latency
    log(
        f"(b) {server} round {round_number}: {deliveries}/{expected} deliveries, "
        f"{result.deliveries_per_s:,.0f}/s, p50 {q['delivery']['p50']:.1f} ms, "
        f"p99 {q['delivery']['p99']:.1f} ms, spread p99 {q['spread']['p99']:.1f} ms, "
        + (
            f"to log p99 {q['to_log']['p99']:.1f} ms, log->NATS p99 "
            f"{q['log_to_nats']['p99']:.1f} ms, NATS->socket p99 "
            f"{q['nats_to_socket']['p99']:.1f} ms, "
            if "to_log" in q
            else ""
        )
        + f"cpu {usage}"
    )
    return result


async def part_fanout(
    servers: dict[str, Proc],
    clients: Sequence[ClientProc],
    conversations: Sequence[str],
    args: Any,
    cpu: CpuMeter,
    tap: Tap,
    workdir: Path,
) -> list[FanoutResult]:
    share = args.per_conversation // len(clients)
    connected: dict[str, tuple[int, int, float]] = {}
    for name, proc in servers.items():
        before = await settled_rss(proc.pid, 0.5)
        requests = []
        for k, client in enumerate(clients):
            urls = [
                ws_url(proc.port, c, token(f"fan-{k}-{j}") if name == "parley" else None)
                for c in conversations
                for j in range(share)
            ]
            requests.append(
                client.request(
                    op="connect", name=name, urls=urls, compression=compression_of(args.compression)
                )
            )
        answers = await asyncio.gather(*requests)
        failed = sum(a["failed"] for a in answers)
        if failed:
            raise RuntimeError(f"(b) {failed} sockets to {name} failed: {answers}")
        seconds = max(a["seconds"] for a in answers)
        after = await settled_rss(proc.pid, 0.5)
        connected[name] = (before, after, seconds)
        log(
            f"(b) {sum(a['connected'] for a in answers)} sockets on {name} in {seconds:.1f} s "
            f"(RSS +{(after - before) / 1024 / 1024:.1f} MiB)"
        )
    await asyncio.sleep(2)  # let the connection storm settle
    rounds: list[FanoutRound] = []
    pooled = {name: Samples() for name in servers}
    for r in range(args.rounds):
        for name in ("bare", "parley"):
            rounds.append(
                await fanout_round(
                    name,
                    r,
                    servers[name],
                    clients,
                    conversations,
                    args,
                    cpu,
                    tap,
                    workdir,
                    pooled[name],
                )
            )
    results = []
    for name in ("bare", "parley"):
        mine = [r for r in rounds if r.server == name]
        before, after, seconds = connected[name]
        results.append(
            FanoutResult(
                server=name,
                rounds=mine,
                deliveries_per_s=sum(r.deliveries for r in mine) / sum(r.seconds for r in mine),
                delivered_fraction=sum(r.deliveries for r in mine)
                / max(1, sum(r.expected for r in mine)),
                latency=pooled[name].quantiles(),
                rss_before=before,
                rss_connected=after,
                connect_seconds=seconds,
            )
        )
    for name in servers:
        await all_clients(clients, op="close", name=name)
    return results
