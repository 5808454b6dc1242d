"""(a) end-to-end latency: SEND_MESSAGE (or POST) -> MESSAGE_CREATED."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench import common
from bench.ws_client import decode_frame, ready_socket
from bench.ws_procs import HttpPool, Rig, compression_of, token, ws_url


async def part_e2e(rig: Rig, serve: common.Proc, conversations: Sequence[str]) -> dict[str, Any]:
    """``latency`` in ms: ``delivery`` (send -> the subscriber's MESSAGE_CREATED), ``ack``
    (send -> ACK or HTTP response), ``send_lag`` (how late the generator sent), and the
    tap's split ``to_log``, ``log_to_nats``, ``nats_to_socket``; ``window_p99_ms``: p99
    of each 5 s of sends, to show how steady it was."""
    args, cpu = rig.args, rig.cpu
    senders, gate, run_id = len(conversations), asyncio.Semaphore(50), secrets.token_hex(3)
    via_ws = args.send_via == "ws"

    async def opened(role: str, i: int, conversation: str) -> ClientConnection:
        url = ws_url(serve.port, conversation, token(f"e2e-{role}-{run_id}-{i}"))
        async with gate:
            return await ready_socket(url, compression_of(args.compression))

    subscribers = await asyncio.gather(*(opened("sub", *c) for c in enumerate(conversations)))
    sending = await asyncio.gather(
        *(opened("send", *c) for c in enumerate(conversations) if via_ws)
    )
    common.log(f"(a) {len(subscribers)} subscriber and {len(sending)} sender sockets ready")

    warmup = round(args.e2e_warmup * args.e2e_rate)
    total = warmup + round(args.e2e_seconds * args.e2e_rate)
    expected = total - warmup  # message numbers below ``warmup`` are the warm-up
    sent_at: dict[int, int] = {}
    received_at: dict[int, int] = {}
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    all_received = asyncio.Event()

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
        for number in range(total):
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
                http.send("/api/messages", msgspec.json.encode(message), now, ack, errors)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_received.wait(), 5)
        usage = cpu.stop()
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
    received = len(samples["delivery"])
    result = {"send_via": args.send_via, "rate": args.e2e_rate, "seconds": args.e2e_seconds}
    result |= {"senders": senders, "sent": expected, "received": received}
    result |= {"lost": expected - received}
    result["latency"] = {name: common.summary(samples[name]) for name in names}
    result["window_p99_ms"] = [round(common.percentile(windows[w], 99), 1) for w in sorted(windows)]
    return result | {"errors": dict(errors), "cpu": usage}
