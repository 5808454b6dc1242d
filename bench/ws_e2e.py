"""(a) end-to-end latency: SEND_MESSAGE (or POST) -> MESSAGE_CREATED."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.common import Proc, log, percentile, summary
from bench.ws_http import HttpError, HttpPool
from bench.ws_procs import CpuMeter, Tap, compression_of, token, ws_url


class _Frame(msgspec.Struct):
    type: str
    content: str | None = None
    ref: str | None = None
    code: str | None = None


_decode = msgspec.json.Decoder(_Frame).decode


@dataclass
class E2EResult:
    send_via: str
    rate: float
    seconds: float
    senders: int
    sent: int
    received: int
    lost: int
    latency: dict[str, dict[str, float]]
    """ms: ``delivery`` (send -> the subscriber's MESSAGE_CREATED), ``ack`` (send
    -> ACK or HTTP response), ``send_lag`` (how late the generator sent: it
    must keep its rate), and the tap's split ``to_log``, ``log_to_nats``,
    ``nats_to_socket``."""
    window_p99_ms: list[float]
    """p99 of each 5 s of sends, to show how steady it was."""
    errors: dict[str, int]
    cpu: dict[str, float]

    @property
    def p99_ms(self) -> float:
        return self.latency["delivery"]["p99"]


async def _open_ready(url: str, compression: str | None) -> ClientConnection:
    ws = await connect(url, compression=compression, ping_interval=None, open_timeout=60)
    while _decode(await asyncio.wait_for(ws.recv(), 60)).type != "READY":
        pass
    return ws


async def part_e2e(
    serve: Proc,
    conversations: Sequence[str],
    args: Any,
    cpu: CpuMeter,
    tap: Tap,
) -> E2EResult:
    compression = compression_of(args.compression)
    senders = len(conversations)
    gate = asyncio.Semaphore(50)

    async def opened(url: str) -> ClientConnection:
        async with gate:
            return await _open_ready(url, compression)

    run_id = secrets.token_hex(3)
    subscribers = await asyncio.gather(
        *(
            opened(ws_url(serve.port, c, token(f"e2e-sub-{run_id}-{i}")))
            for i, c in enumerate(conversations)
        )
    )
    sending: list[ClientConnection] = []
    if args.send_via == "ws":
        sending = list(
            await asyncio.gather(
                *(
                    opened(ws_url(serve.port, c, token(f"e2e-send-{run_id}-{i}")))
                    for i, c in enumerate(conversations)
                )
            )
        )
    log(f"(a) {len(subscribers)} subscriber and {len(sending)} sender sockets ready")

    sent_at: dict[int, int] = {}
    latencies: list[float] = []
    received_at: dict[int, int] = {}
    acks: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    warmup = round(args.e2e_warmup * args.e2e_rate)
    total = warmup + round(args.e2e_seconds * args.e2e_rate)
    measuring_from = warmup  # message numbers below this are the warm-up
    expected = total - warmup
    received = 0
    all_received = asyncio.Event()

    async def read_subscriber(ws: ClientConnection) -> None:
        nonlocal received
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.monotonic_ns()
                frame = _decode(raw)
                if frame.type == "MESSAGE_CREATED" and frame.content:
                    _, number, sent = frame.content.split("|")
                    if int(number) >= measuring_from:
                        latencies.append((now - int(sent)) / 1e6)
                        received_at[int(number)] = now
                        received += 1
                        if received >= expected:
                            all_received.set()

    async def read_sender(ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.monotonic_ns()
                frame = _decode(raw)
                if frame.type == "ACK" and frame.ref is not None:
                    number = int(frame.ref)
                    if number >= measuring_from and number in sent_at:
                        acks.append((now - sent_at[number]) / 1e6)
                elif frame.type == "ERROR":
                    errors[frame.code or "?"] += 1

    readers = [asyncio.create_task(read_subscriber(ws)) for ws in subscribers]
    readers += [asyncio.create_task(read_sender(ws)) for ws in sending]
    posts: set[asyncio.Task[None]] = set()
    http = HttpPool("127.0.0.1", serve.port, 64, {"Authorization": f"Bearer {token('e2e-http')}"})
    if args.send_via == "http":
        await http.__aenter__()

    async def post(number: int, conversation_id: str, content: str) -> None:
        body = msgspec.json.encode({"conversation_id": conversation_id, "content": content})
        try:
            status, _ = await http.post("/api/messages", body)
            if status != 201:
                errors[f"http {status}"] += 1
            elif number >= measuring_from:
                acks.append((time.monotonic_ns() - sent_at[number]) / 1e6)
        except (OSError, asyncio.IncompleteReadError, HttpError) as error:
            errors[type(error).__name__] += 1

    lags: list[float] = []
    interval = 1 / args.e2e_rate
    t0 = time.monotonic() + 0.2
    for number in range(total):
        if number == warmup:
            cpu.start()
        due = t0 + number * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.monotonic() - due) * 1000)
        which = number % senders
        now = time.monotonic_ns()
        content = f"e2e|{number}|{now}"
        sent_at[number] = now
        if args.send_via == "ws":
            frame = json.dumps({"type": "SEND_MESSAGE", "content": content, "ref": str(number)})
            await sending[which].send(frame)
        else:
            task = asyncio.create_task(post(number, conversations[which], content))
            posts.add(task)
            task.add_done_callback(posts.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_received.wait(), 5)
    usage = cpu.stop()
    if posts:
        await asyncio.gather(*posts, return_exceptions=True)
    if args.send_via == "http":
        await http.__aexit__()
    for ws in [*subscribers, *sending]:
        with contextlib.suppress(Exception):
            await ws.close()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await tap.sync()
    to_log: list[float] = []
    log_to_nats: list[float] = []
    nats_to_socket: list[float] = []
    for number, at in received_at.items():
        content = f"e2e|{number}|{sent_at[number]}"
        split, at_nats = tap.split(content, sent_at[number]), tap.arrived(content)
        if split is not None and at_nats is not None:
            to_log.append(split[0])
            log_to_nats.append(split[1])
            nats_to_socket.append((at - at_nats) / 1e6)
    windows: dict[int, list[float]] = defaultdict(list)
    start_ns = sent_at.get(warmup, 0)
    for number, at in received_at.items():
        windows[(sent_at[number] - start_ns) // 5_000_000_000].append((at - sent_at[number]) / 1e6)
    return E2EResult(
        send_via=args.send_via,
        rate=args.e2e_rate,
        seconds=args.e2e_seconds,
        senders=senders,
        sent=expected,
        received=received,
        lost=expected - received,
        latency={
            "delivery": summary(latencies),
            "ack": summary(acks),
            "send_lag": summary(lags[warmup:]),
            "to_log": summary(to_log),
            "log_to_nats": summary(log_to_nats),
            "nats_to_socket": summary(nats_to_socket),
        },
        window_p99_ms=[round(percentile(windows[w], 99), 1) for w in sorted(windows)],
        errors=dict(errors),
        cpu=usage,
    )
