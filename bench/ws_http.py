"""A lean HTTP/1.1 client for ``bench.ws``'s load: keep-alive connections
over asyncio streams, one request at a time on each, JSON bodies.

httpx costs a few milliseconds of CPU per request, which at 100 to 200
requests/s on this 2-core machine makes the load generator a bottleneck of
its own; this costs tens of microseconds. It knows just enough HTTP for the
two servers it talks to (a status line, headers, a body of
``Content-Length`` bytes or chunked).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec


class HttpError(Exception):
    pass


class HttpPool:
    def __init__(self, host: str, port: int, size: int, headers: Mapping[str, str]) -> None:
        self.host = host
        self.port = port
        self.size = size
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._all: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> HttpPool:
        for _ in range(self.size):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self._all.append(writer)
            self._idle.put_nowait((reader, writer))
        return self

    async def __aexit__(self, *_: object) -> None:
        for writer in self._all:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``: (status, response body)."""
        reader, writer = await self._idle.get()
        try:
            writer.write(
                (
                    f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._head}"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                + body
            )
            status, data = await _response(reader)
        except BaseException:
            # the connection is in an unknown state: replace it
            writer.close()
            with contextlib.suppress(Exception):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                self._all.append(writer)
            raise
        finally:
            self._idle.put_nowait((reader, writer))
        return status, data


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        raise HttpError(f"bad status line {lines[0]!r}") from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks)
            chunks.append(chunk[:-2])
    return status, b""


@dataclass
class Driven:
    sent_at: dict[int, int]
    ok: int
    failures: dict[str, int]
    post_ms: list[float]


async def drive(
    port: int,
    path: str,
    jwt: str | None,
    conversations: Sequence[str],
    rate: float,
    warmup: float,
    seconds: float,
    tag: str,
    on_measure_start: Callable[[], None],
) -> Driven:
    """POST messages at ``rate``, round robin over the conversations (warm-up
    ones tagged ``warm``); the measured ones' send times and outcomes."""
    headers = {"Authorization": f"Bearer {jwt}"} if jwt else {}
    driven = Driven({}, 0, defaultdict(int), [])
    tasks: set[asyncio.Task[None]] = set()
    async with HttpPool("127.0.0.1", port, 32, headers) as client:

        async def post(number: int, body: dict[str, str]) -> None:
            try:
                status, _ = await client.post(path, msgspec.json.encode(body))
                if status in (201, 202):
                    if number >= 0:
                        driven.ok += 1
                        driven.post_ms.append((time.monotonic_ns() - driven.sent_at[number]) / 1e6)
                else:
                    driven.failures[f"http {status}"] += 1
            except (OSError, asyncio.IncompleteReadError, HttpError) as error:
                driven.failures[type(error).__name__] += 1

        warm = round(warmup * rate)
        total = warm + round(seconds * rate)
        interval = 1 / rate
        t0 = time.monotonic() + 0.1
        for i in range(total):
            if i == warm:
                on_measure_start()
            due = t0 + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic_ns()
            number = i - warm
            if number >= 0:
                content = f"{tag}|{number}|{now}"
                driven.sent_at[number] = now
            else:
                content = f"warm|{i}|{now}"
            body = {"conversation_id": conversations[i % len(conversations)], "content": content}
            task = asyncio.create_task(post(number, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    driven.failures = dict(driven.failures)
    return driven
