"""bench.ws's helper process, a JSON line per request (``{"op": <method>, ...}``) and answer:
sockets and their deliveries (Client), or with ``--tap NATS_URL PREFIX`` the tap. Messages
read ``<tag>|<n>|<send time, monotonic ns>``: one clock for every process of the machine."""

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import msgspec
import nats
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.common import raise_open_file_limit


class Frame(msgspec.Struct):
    type: str
    content: str | None = None
    ref: str | None = None
    code: str | None = None


class Event(msgspec.Struct):
    data: Frame
    recorded_at: datetime


# the server pings, and the client answers by itself
OPTIONS: Any = {"ping_interval": None, "open_timeout": 60, "close_timeout": 2, "max_size": 2**20}
decode_frame = msgspec.json.Decoder(Frame).decode
decode_event = msgspec.json.Decoder(Event).decode


async def ready_socket(url: str, compression: str) -> ClientConnection:
    """A socket to ``url`` offering ``compression`` ("none": none), once it got its READY."""
    ws = await connect(url, compression=None if compression == "none" else compression, **OPTIONS)
    while decode_frame(await asyncio.wait_for(ws.recv(), 60)).type != "READY":
        pass
    return ws


class Client:
    """Named sets of sockets, each opened up to its READY; the deliveries of the current tag."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[ClientConnection, asyncio.Task[None]]] = defaultdict(dict)
        self.kept: dict[int, list[int]] = defaultdict(list)  # message number -> latencies, µs
        self.current, self.close_codes = "", Counter[str]()

    async def connect(self, name: str, urls: list[str], compression: str) -> dict[str, Any]:
        started, gate, failures = time.monotonic(), asyncio.Semaphore(50), Counter[str]()

        async def one(url: str) -> None:
            async with gate:
                try:
                    ws = await ready_socket(url, compression)
                except Exception as error:
                    failures[type(error).__name__ + ": " + str(error)[:80]] += 1
                    return
            self.sets[name][ws] = asyncio.create_task(self.read(ws))

        await asyncio.gather(*(one(url) for url in urls))
        failed, seconds = failures.total(), round(time.monotonic() - started, 3)
        answer = {"connected": len(urls) - failed, "failed": failed, "seconds": seconds}
        return answer | {"failures": dict(failures.most_common(3))}

    async def read(self, ws: ClientConnection) -> None:
        try:
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    now, frame = time.monotonic_ns(), decode_frame(raw)
                    tag, _, rest = (frame.content or "").partition("|")
                    if frame.type == "MESSAGE_CREATED" and frame.content and tag == self.current:
                        number, _, sent = rest.partition("|")
                        self.kept[int(number)].append((now - int(sent)) // 1000)
        finally:
            self.close_codes[str(ws.close_code)] += 1

    async def close(self, name: str) -> dict[str, Any]:
        sockets, gate = self.sets.pop(name, {}), asyncio.Semaphore(200)

        async def one(ws: ClientConnection) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await ws.close()

        await asyncio.gather(*(one(ws) for ws in sockets))
        for reader in sockets.values():
            reader.cancel()
        await asyncio.gather(*sockets.values(), return_exceptions=True)
        for code in ("1000", "None"):  # these closes were ours, not the server's
            self.close_codes.pop(code, None)
        return {"closed": len(sockets)}

    def tag(self, tag: str) -> None:
        self.current, self.kept = tag, defaultdict(list)

    def count(self) -> dict[str, Any]:
        return {"deliveries": sum(len(v) for v in self.kept.values())}

    def collect(self) -> dict[str, Any]:
        return {**self.count(), "close_codes": dict(self.close_codes), "latencies": self.kept}

    async def exit(self) -> None:
        for name in list(self.sets):
            await self.close(name)


class Tap:
    """When each benchmark message reached NATS, and when it was INSERTed (monotonic clock)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, int]] = {}
        self.wall_minus_monotonic = time.time_ns() - time.monotonic_ns()

    async def start(self, nats_url: str, prefix: str) -> None:
        async def on_message(message: Any) -> None:
            now = time.monotonic_ns()
            try:
                event = decode_event(message.data)
            except msgspec.DecodeError:
                return
            if event.data.content is not None and "|" in event.data.content:
                recorded = round(event.recorded_at.timestamp() * 1e9) - self.wall_minus_monotonic
                self.seen[event.data.content] = (now, recorded)

        self.nc = await nats.connect(nats_url, connect_timeout=5)
        await self.nc.subscribe(f"{prefix}.events.*.MessageSent", cb=on_message)
        await self.nc.flush()

    def dump(self) -> dict[str, Any]:
        answer, self.seen = {"seen": self.seen}, {}
        return answer

    async def exit(self) -> None:
        await self.nc.close()


async def serve(agent: Client | Tap) -> None:
    """Answer the requests on stdin, ``{"op": <method>, **arguments}``, until ``exit``."""
    reader, loop = asyncio.StreamReader(limit=2**26), asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ok": True}), flush=True)
    while line := await reader.readline():
        request = json.loads(line)
        op = request.pop("op")
        try:
            answer = getattr(agent, op)(**request)
            answer = (await answer if asyncio.iscoroutine(answer) else answer) or {}
        except Exception as error:
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps({"ok": True, **answer}), flush=True)
        if op == "exit":
            return


async def main(argv: list[str]) -> None:
    raise_open_file_limit()
    if argv[:1] == ["--tap"]:
        await (tap := Tap()).start(argv[1], argv[2])
    await serve(tap if argv[:1] == ["--tap"] else Client())


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1:]))
