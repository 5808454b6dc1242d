"""(b) fan-out, Parley against the bare broadcast round by round; (c) memory per idle socket."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec

from bench import common
from bench.ws_procs import HttpPool, Rig, compression_of, settled_rss, token, ws_url

Samples = dict[str, list[float]]
SPLITS = [("to_log", "to log"), ("log_to_nats", "log->NATS"), ("nats_to_socket", "NATS->socket")]


async def drive(
    rig: Rig, server: str, proc: common.Proc, conversations: Sequence[str], tag: str
) -> tuple[dict[int, int], list[float], dict[str, int]]:
    """POST at the fan-out rate (warm-up: ``warm``): send times, POST -> response ms, failures."""
    args, parley = rig.args, server == "parley"
    headers = {"Authorization": f"Bearer {token('fanout-driver')}"} if parley else {}
    path = "/api/messages" if parley else "/broadcast"
    sent_at, post_ms, failures = dict[int, int](), list[float](), defaultdict[str, int](int)
    warm = round(args.fanout_warmup * args.fanout_rate)
    total = warm + round(args.fanout_seconds * args.fanout_rate)
    t0, interval = time.monotonic() + 0.1, 1 / args.fanout_rate
    async with HttpPool(proc.port, 32, headers) as client:
        for i in range(total):
            if i == warm:
                rig.cpu.start()
            if (delay := t0 + i * interval - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            now, number = time.monotonic_ns(), i - warm
            content = f"{tag}|{number}|{now}" if number >= 0 else f"warm|{i}|{now}"
            if number >= 0:
                sent_at[number] = now
            message = {"conversation_id": conversations[i % len(conversations)], "content": content}
            into = post_ms if number >= 0 else None
            client.send(path, msgspec.json.encode(message), now, into, failures)
    return sent_at, post_ms, dict(failures)


async def fanout_round(
    rig: Rig, server: str, number: int, proc: common.Proc, conversations: Sequence[str]
) -> tuple[dict[str, Any], Samples]:
    """One round on one server: ``delivery``, ``spread``, ``post`` and the tap's splits, ms."""
    tag, args = f"{server}{number}", rig.args
    await rig.all_clients(op="tag", tag=tag)
    sent_at, post_ms, failures = await drive(rig, server, proc, conversations, tag)
    expected, deadline = len(post_ms) * args.per_conversation, time.monotonic() + args.drain
    while True:  # until every delivery arrived, or the drain time is over
        await asyncio.sleep(0.25)
        counts = await rig.all_clients(op="count")
        if sum(a["deliveries"] for a in counts) >= expected or time.monotonic() > deadline:
            break
    usage, answers = rig.cpu.stop(), await rig.all_clients(op="collect")
    await rig.tap.sync()
    by_message: dict[int, list[int]] = defaultdict(list)  # latencies in µs
    close_codes = Counter[str]()
    for answer in answers:
        for n, lats in answer["latencies"].items():
            by_message[int(n)].extend(lats)
        close_codes.update(answer["close_codes"])
    samples: Samples = defaultdict(list)
    last_delivery = 0
    for n, lats in by_message.items():
        samples["delivery"] += [lat / 1000 for lat in lats]
        samples["spread"] += [(lat - min(lats)) / 1000 for lat in lats]
        if (arrived := rig.tap.split(tag, n, sent_at[n], samples)) is not None:
            to_nats = (arrived - sent_at[n]) / 1e6
            samples["nats_to_socket"] += [lat / 1000 - to_nats for lat in lats]
        last_delivery = max(last_delivery, sent_at[n] + max(lats) * 1000)
    samples["post"] += post_ms
    span = (last_delivery - min(sent_at.values())) / 1e9 if last_delivery else float("nan")
    deliveries = len(samples["delivery"])
    if failures:
        common.log(f"(b) {server} round {number}: POST failures {failures}")
    q = {name: common.summary(v) for name, v in samples.items()}
    rate = deliveries / span if span else float("nan")
    result = {"server": server, "round": number, "messages": len(sent_at)}
    result |= {"posted_ok": len(post_ms), "deliveries": deliveries, "expected": expected}
    result |= {"seconds": round(span, 3), "deliveries_per_s": rate, "latency": q, "cpu": usage}
    result["close_codes"] = dict(close_codes)
    splits = [f"{label} p99 {q[k]['p99']:.1f} ms, " for k, label in SPLITS if k in q]
    common.log(
        f"(b) {server} round {number}: {deliveries}/{expected} deliveries, {rate:,.0f}/s, "
        f"p50 {q['delivery']['p50']:.1f} ms, p99 {q['delivery']['p99']:.1f} ms, "
        f"spread p99 {q['spread']['p99']:.1f} ms, {''.join(splits)}cpu {usage}"
    )
    return result, samples


async def part_fanout(rig: Rig, conversations: Sequence[str]) -> list[dict[str, Any]]:
    args, servers = rig.args, rig.servers
    share = args.per_conversation // len(rig.clients)
    connected: dict[str, dict[str, Any]] = {}
    for name, proc in servers.items():
        before = await settled_rss(proc.pid, 0.5)
        requests = []
        for k, client in enumerate(rig.clients):
            urls = [
                ws_url(proc.port, c, token(f"fan-{k}-{j}") if name == "parley" else None)
                for c in conversations
                for j in range(share)
            ]
            offer = compression_of(args.compression)
            requests.append(client.request(op="connect", name=name, urls=urls, compression=offer))
        answers = await asyncio.gather(*requests)
        if failed := sum(a["failed"] for a in answers):
            raise RuntimeError(f"(b) {failed} sockets to {name} failed: {answers}")
        seconds, after = max(a["seconds"] for a in answers), await settled_rss(proc.pid, 0.5)
        connected[name] = {"rss_before": before, "rss_connected": after, "connect_seconds": seconds}
        common.log(
            f"(b) {sum(a['connected'] for a in answers)} sockets on {name} in {seconds:.1f} s "
            f"(RSS +{(after - before) / 1024 / 1024:.1f} MiB)"
        )
    await asyncio.sleep(2)  # let the connection storm settle
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in ("bare", "parley")}
    pooled: dict[str, Samples] = {name: defaultdict(list) for name in servers}
    for r in range(args.rounds):
        for name, mine in rounds.items():
            result, samples = await fanout_round(rig, name, r, servers[name], conversations)
            mine.append(result)
            for key, values in samples.items():
                pooled[name][key] += values
    results = []
    for name, mine in rounds.items():
        deliveries, result = sum(r["deliveries"] for r in mine), {"server": name, "rounds": mine}
        result["deliveries_per_s"] = deliveries / sum(r["seconds"] for r in mine)
        result["delivered_fraction"] = deliveries / max(1, sum(r["expected"] for r in mine))
        result["latency"] = {k: common.summary(v) for k, v in pooled[name].items()}
        results.append(result | connected[name])
    for name in servers:
        await rig.all_clients(op="close", name=name)
    return results


async def part_memory(rig: Rig, ids: list[str]) -> list[dict[str, Any]]:
    """Each server and compression in a fresh process: freed memory would be reused."""
    client, sockets, per = rig.clients[0], rig.args.idle_sockets, rig.args.per_conversation
    results = []
    for compression in ("deflate", "none"):
        async with rig.servers_up(f"mem-{compression}") as servers:
            for name, proc in servers.items():
                jwt = token("mem-idle") if name == "parley" else None
                urls = [ws_url(proc.port, ids[i // per % len(ids)], jwt) for i in range(sockets)]
                offer = compression_of(compression)
                # warm up first (imports, caches, pools): only what a socket holds counts
                await client.request(op="connect", name="warm", urls=urls[:50], compression=offer)
                await client.request(op="close", name="warm")
                before = await settled_rss(proc.pid)
                answer = await client.request(
                    op="connect", name="idle", urls=urls, compression=offer
                )
                after = await settled_rss(proc.pid)
                await client.request(op="close", name="idle")
                after_close = await settled_rss(proc.pid, 0.5)
                m = {"server": name, "compression": compression, "sockets": sockets}
                m |= {"connected": answer["connected"], "connect_seconds": answer["seconds"]}
                m |= {"rss_before": before, "rss_after": after, "rss_after_close": after_close}
                m["kib_per_socket"] = (after - before) / 1024 / max(1, answer["connected"])
                common.log(
                    f"(c) {name}, {compression}: {m['connected']} sockets in "
                    f"{m['connect_seconds']:.1f} s, {m['kib_per_socket']:.1f} KiB each"
                )
                results.append(m)
    return results
