"""A load-generating WebSocket client process for ``bench.ws``.

It holds many sockets (``websockets`` asyncio client on uvloop), reads every
frame, and for each MESSAGE_CREATED whose ``content`` is a benchmark id
``<tag>|<n>|<send time, monotonic ns>`` notes the delivery latency (receive
time minus send time; CLOCK_MONOTONIC is one clock for every process of the
machine). It is driven by ``bench.ws`` through JSON lines, one request on
stdin, one answer on stdout:

- ``{"op": "connect", "name": N, "urls": [...], "compression": "deflate"|null,
  "concurrency": 50}``: open the sockets (set ``N``), each waited on up to its
  READY; answers ``connected``, ``failed``, ``seconds``.
- ``{"op": "tag", "tag": T}``: from now on keep the deliveries of tag ``T``
  (and forget what was kept).
- ``{"op": "count"}``: how many deliveries of the current tag so far.
- ``{"op": "collect", "path": P}``: write ``{"<n>": [latency µs, ...]}`` of
  the current tag to ``P``; answers the counts and the sockets closed so far.
- ``{"op": "close", "name": N}``: close set ``N``.
- ``{"op": "exit"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import msgspec
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class _Frame(msgspec.Struct):
    type: str
    content: str | None = None


_decode = msgspec.json.Decoder(_Frame).decode


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Client:
    def __init__(self) -> None:
        self.sets: dict[str, list[ClientConnection]] = defaultdict(list)
        self.readers: dict[str, list[asyncio.Task[None]]] = defaultdict(list)
        self.tag = ""
        self.kept: dict[int, list[int]] = defaultdict(list)
        self.others = 0
        self.close_codes: Counter[str] = Counter()

    # -- sockets -------------------------------------------------------------------

    async def _open(self, url: str, compression: str | None) -> ClientConnection:
        ws = await connect(
            url,
            compression=compression,
            ping_interval=None,  # the server pings; the client answers by itself
            open_timeout=60,
            close_timeout=2,
            max_size=2**20,
        )
        while True:  # the replay, then READY
            frame = _decode(await asyncio.wait_for(ws.recv(), 60))
            if frame.type == "READY":
                return ws

    async def connect(self, name: str, urls: list[str], compression: str | None, limit: int) -> Any:
        started = time.monotonic()
        gate = asyncio.Semaphore(limit)
        failures: Counter[str] = Counter()

        async def one(url: str) -> None:
            async with gate:
                try:
                    ws = await self._open(url, compression)
                except Exception as error:
                    failures[type(error).__name__ + ": " + str(error)[:80]] += 1
                    return
            self.sets[name].append(ws)
            self.readers[name].append(asyncio.create_task(self._read(ws)))

        await asyncio.gather(*(one(url) for url in urls))
        return {
            "connected": len(urls) - sum(failures.values()),
            "failed": sum(failures.values()),
            "failures": dict(failures.most_common(3)),
            "seconds": round(time.monotonic() - started, 3),
        }

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                now = time.monotonic_ns()
                frame = _decode(raw)
                if frame.type != "MESSAGE_CREATED" or frame.content is None:
                    continue
                tag, _, rest = frame.content.partition("|")
                if tag != self.tag:
                    self.others += 1
                    continue
                number, _, sent = rest.partition("|")
                self.kept[int(number)].append((now - int(sent)) // 1000)
        except ConnectionClosed:
            pass
        finally:
            code = ws.close_code
            self.close_codes[str(code)] += 1

    async def close(self, name: str) -> Any:
        sockets = self.sets.pop(name, [])
        readers = self.readers.pop(name, [])
        gate = asyncio.Semaphore(200)

        async def one(ws: ClientConnection) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await ws.close()

        await asyncio.gather(*(one(ws) for ws in sockets))
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        # these closes were ours: do not report them as the server's
        for code in list(self.close_codes):
            if code in ("1000", "None"):
                del self.close_codes[code]
        return {"closed": len(sockets)}

    # -- measurements ----------------------------------------------------------------

    def set_tag(self, tag: str) -> Any:
        self.tag = tag
        self.kept = defaultdict(list)
        self.others = 0
        return {}

    def collect(self, path: str) -> Any:
        kept = self.kept
        with open(path, "w") as out:
            json.dump({str(n): lats for n, lats in kept.items()}, out)
        return {
            "deliveries": sum(len(v) for v in kept.values()),
            "messages": len(kept),
            "others": self.others,
            "close_codes": dict(self.close_codes),
            "open": {
                name: sum(1 for ws in s if ws.close_code is None) for name, s in self.sets.items()
            },
        }


async def serve_requests() -> None:
    limit = raise_open_file_limit()
    client = Client()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ok": True, "nofile": limit}), flush=True)
    while line := await reader.readline():
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "connect":
                answer = await client.connect(
                    request["name"],
                    request["urls"],
                    request.get("compression"),
                    request.get("concurrency", 50),
                )
            elif op == "tag":
                answer = client.set_tag(request["tag"])
            elif op == "count":
                answer = {"deliveries": sum(len(v) for v in client.kept.values())}
            elif op == "collect":
                answer = client.collect(request["path"])
            elif op == "close":
                answer = await client.close(request["name"])
            elif op == "exit":
                for name in list(client.sets):
                    await client.close(name)
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as error:
            print(
                json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}), flush=True
            )
            continue
        print(json.dumps({"ok": True, **answer}), flush=True)


def main() -> None:
    uvloop.run(serve_requests())


if __name__ == "__main__":
    main()
