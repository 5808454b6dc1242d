"""bench.ws's parts: (a) end-to-end latency, (b) fan-out against a bare broadcast, (c) memory."""

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec
import psutil
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench import common
from bench.ws_client import decode_frame, ready_socket
from bench.ws_procs import HttpPool, Rig, settled_rss, token, ws_url

SPLITS = [("to_log", "to log"), ("log_to_nats", "log->NATS"), ("nats_to_socket", "NATS->socket")]


async def part_e2e(rig: Rig, serve: common.Proc, conversations: Sequence[str]) -> dict[str, Any]:
    """``latency`` ms: delivery, ack, send_lag, the tap's splits; p99 of each 5 s of sends."""
    args, cpu, via_ws = rig.args, rig.cpu, rig.args.send_via == "ws"
    senders, gate, run_id = len(conversations), asyncio.Semaphore(50), secrets.token_hex(3)

    async def opened(role: str, i: int, conversation: str) -> ClientConnection:
        url = ws_url(serve.port, conversation, token(f"e2e-{role}-{run_id}-{i}"))
        async with gate:
            return await ready_socket(url, args.compression)

    numbered = list(enumerate(conversations))
    subscribers = await asyncio.gather(*(opened("sub", *c) for c in numbered))
    sending = await asyncio.gather(*(opened("send", *c) for c in numbered if via_ws))
    common.log(f"(a) {len(subscribers)} subscriber and {len(sending)} sender sockets ready")
    warmup = round(args.e2e_warmup * args.e2e_rate)  # message numbers below it: the warm-up
    expected = round(args.e2e_seconds * args.e2e_rate)
    sent_at, received_at, all_received = dict[int, int](), dict[int, int](), asyncio.Event()
    samples, errors = defaultdict[str, list[float]](list), defaultdict[str, int](int)

    async def read(ws: ClientConnection, subscriber: bool) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now, frame = time.monotonic_ns(), decode_frame(raw)
                if subscriber and frame.type == "MESSAGE_CREATED" and frame.content:
                    _, n, sent = frame.content.split("|")
                    if int(n) >= warmup:
                        samples["delivery"].append((now - int(sent)) / 1e6)
                        received_at[int(n)] = now
                        if len(samples["delivery"]) >= expected:
                            all_received.set()
                elif not subscriber and frame.type == "ACK" and frame.ref is not None:
                    if (number := int(frame.ref)) >= warmup and number in sent_at:
                        samples["ack"].append((now - sent_at[number]) / 1e6)
                elif not subscriber and frame.type == "ERROR":
                    errors[frame.code or "?"] += 1

    readers = [asyncio.create_task(read(ws, True)) for ws in subscribers]
    readers += [asyncio.create_task(read(ws, False)) for ws in sending]
    jwt = {"Authorization": f"Bearer {token('e2e-http')}"}
    t0, interval = time.monotonic() + 0.2, 1 / args.e2e_rate
    async with HttpPool(serve.port, 0 if via_ws else 64, jwt) as http:
        for number in range(warmup + expected):
            if number == warmup:
                cpu.start()
            due = t0 + number * interval
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            if number >= warmup:
                samples["send_lag"].append(max(0.0, time.monotonic() - due) * 1000)
            which, now = number % senders, time.monotonic_ns()
            content, sent_at[number] = f"e2e|{number}|{now}", now
            if via_ws:
                frame = {"type": "SEND_MESSAGE", "content": content, "ref": str(number)}
                await sending[which].send(json.dumps(frame))
            else:
                message = {"conversation_id": conversations[which], "content": content}
                ack = samples["ack"] if number >= warmup else None
                http.send("/api/messages", msgspec.json.encode(message), now, ack)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_received.wait(), 5)
        usage = cpu.stop()
    errors.update(http.failures)  # with --send-via http
    for ws in [*subscribers, *sending]:
        with contextlib.suppress(Exception):
            await ws.close()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await rig.tap.sync()
    windows: dict[int, list[float]] = defaultdict(list)
    for number, at in received_at.items():
        sent = sent_at[number]
        if (arrived := rig.tap.split("e2e", number, sent, samples)) is not None:
            samples["nats_to_socket"].append((at - arrived) / 1e6)
        windows[(sent - sent_at.get(warmup, 0)) // 5_000_000_000].append((at - sent) / 1e6)
    names = ("delivery", "ack", "send_lag", "to_log", "log_to_nats", "nats_to_socket")
    received, result = len(samples["delivery"]), {"send_via": args.send_via, "rate": args.e2e_rate}
    result |= {"seconds": args.e2e_seconds, "senders": senders, "sent": expected}
    result |= {"received": received, "lost": expected - received}
    result["latency"] = {name: common.summary(samples[name]) for name in names}
    result["window_p99_ms"] = [round(common.percentile(windows[w], 99), 1) for w in sorted(windows)]
    return result | {"errors": dict(errors), "cpu": usage}


async def fanout_round(rig: Rig, server: str, number: int, conversations: Sequence[str]) -> Any:
    """One round on one server (POSTs at the fan-out rate after a warm-up): result, samples (ms)."""
    tag, args, parley = f"{server}{number}", rig.args, server == "parley"
    await rig.all_clients(op="tag", tag=tag)
    headers = {"Authorization": f"Bearer {token('fanout-driver')}"} if parley else {}
    path = "/api/messages" if parley else "/broadcast"
    sent_at, post_ms = dict[int, int](), list[float]()
    warm = round(args.fanout_warmup * args.fanout_rate)
    total = warm + round(args.fanout_seconds * args.fanout_rate)
    t0, interval = time.monotonic() + 0.1, 1 / args.fanout_rate
    async with HttpPool(rig.servers[server].port, 32, headers) as client:
        for i in range(total):
            if i == warm:
                rig.cpu.start()
            if (delay := t0 + i * interval - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            now, k = time.monotonic_ns(), i - warm  # k: the message's number, < 0 in the warm-up
            content = f"{tag}|{k}|{now}" if k >= 0 else f"warm|{i}|{now}"
            if k >= 0:
                sent_at[k] = now
            message = {"conversation_id": conversations[i % len(conversations)], "content": content}
            client.send(path, msgspec.json.encode(message), now, post_ms if k >= 0 else None)
    expected, deadline = len(post_ms) * args.per_conversation, time.monotonic() + args.drain
    while True:  # until every delivery arrived, or the drain time is over
        await asyncio.sleep(0.25)
        counts = await rig.all_clients(op="count")
        if sum(a["deliveries"] for a in counts) >= expected or time.monotonic() > deadline:
            break
    usage, answers = rig.cpu.stop(), await rig.all_clients(op="collect")
    await rig.tap.sync()
    by_message, close_codes = defaultdict[int, list[int]](list), Counter[str]()  # latencies: µs
    for answer in answers:
        for n, lats in answer["latencies"].items():
            by_message[int(n)].extend(lats)
        close_codes.update(answer["close_codes"])
    samples, last_delivery = defaultdict[str, list[float]](list), 0
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
    if failures := dict(client.failures):
        common.log(f"(b) {server} round {number}: POST failures {failures}")
    q = {name: common.summary(v) for name, v in samples.items()}
    rate = deliveries / span if span else float("nan")
    result = {"server": server, "round": number, "messages": len(sent_at)}
    result |= {"posted_ok": len(post_ms), "deliveries": deliveries, "expected": expected}
    result |= {"seconds": round(span, 3), "deliveries_per_s": rate, "latency": q, "cpu": usage}
    result["close_codes"] = dict(close_codes)
    splits = "".join(f"{label} p99 {q[k]['p99']:.1f} ms, " for k, label in SPLITS if k in q)
    d, done = q["delivery"], f"{server} round {number}: {deliveries}/{expected} deliveries"
    latency = f"p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms, spread p99 {q['spread']['p99']:.1f}"
    common.log(f"(b) {done}, {rate:,.0f}/s, {latency} ms, {splits}cpu {usage}")
    return result, samples


async def part_fanout(rig: Rig, conversations: Sequence[str]) -> list[dict[str, Any]]:
    args, servers, offer = rig.args, rig.servers, rig.args.compression
    share = args.per_conversation // len(rig.clients)
    connected: dict[str, dict[str, Any]] = {}
    for name, proc in servers.items():
        before = await settled_rss(proc.pid, 0.5)
        requests = []
        for k, client in enumerate(rig.clients):
            jwts = [token(f"fan-{k}-{j}") if name == "parley" else None for j in range(share)]
            urls = [ws_url(proc.port, c, jwt) for c in conversations for jwt in jwts]
            requests.append(client.request(op="connect", name=name, urls=urls, compression=offer))
        answers = await asyncio.gather(*requests)
        if failed := sum(a["failed"] for a in answers):
            raise RuntimeError(f"(b) {failed} sockets to {name} failed: {answers}")
        seconds, after = max(a["seconds"] for a in answers), await settled_rss(proc.pid, 0.5)
        connected[name] = {"rss_before": before, "rss_connected": after, "connect_seconds": seconds}
        sockets, rss = sum(a["connected"] for a in answers), (after - before) / 1024 / 1024
        common.log(f"(b) {sockets} sockets on {name} in {seconds:.1f} s (RSS +{rss:.1f} MiB)")
    await asyncio.sleep(2)  # let the connection storm settle
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in ("bare", "parley")}
    pooled = {name: defaultdict[str, list[float]](list) for name in servers}
    for r in range(args.rounds):
        for name, mine in rounds.items():
            result, samples = await fanout_round(rig, name, r, conversations)
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
    for offer in ("deflate", "none"):
        async with rig.servers_up(f"mem-{offer}") as servers:
            for name, proc in servers.items():
                jwt = token("mem-idle") if name == "parley" else None
                urls = [ws_url(proc.port, ids[i // per % len(ids)], jwt) for i in range(sockets)]
                # warm up first (imports, caches, pools): only what a socket holds counts
                await client.request(op="connect", name="warm", urls=urls[:50], compression=offer)
                await client.request(op="close", name="warm")
                before, server = await settled_rss(proc.pid), psutil.Process(proc.pid)
                cpu = sum(server.cpu_times()[:2])
                idle = await client.request(op="connect", name="idle", urls=urls, compression=offer)
                cpu, after = sum(server.cpu_times()[:2]) - cpu, await settled_rss(proc.pid)
                await client.request(op="close", name="idle")
                after_close = await settled_rss(proc.pid, 0.5)
                m = {"server": name, "compression": offer, "sockets": sockets}
                m |= {"connected": idle["connected"], "connect_seconds": idle["seconds"]}
                m |= {"rss_before": before, "rss_after": after, "rss_after_close": after_close}
                m["kib_per_socket"] = (after - before) / 1024 / max(1, idle["connected"])
                m["cpu_ms_per_socket"] = cpu * 1000 / max(1, idle["connected"])
                done = f"{m['connected']} sockets in {m['connect_seconds']:.1f} s"
                done += f" ({m['cpu_ms_per_socket']:.2f} ms server CPU each)"
                common.log(f"(c) {name}, {offer}: {done}, {m['kib_per_socket']:.1f} KiB each")
                results.append(m)
    return results
