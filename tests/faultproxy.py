"""A TCP proxy that tests put between Parley and a real server, to break the
network the ways production does: cut every connection (a server restart, a
fail-over, ``pg_terminate_backend``), refuse new ones (the server is down), or
freeze everything (a paused server or a dead link: bytes go nowhere, nothing
closes). The servers behind it are real; only the wire is under the test's
control.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Literal

Mode = Literal["forward", "refuse", "freeze"]
Rewrite = Callable[[bytes], bytes]
"""Bytes the server sent, in order, to the bytes the client gets instead."""


class FaultProxy:
    """Listens on 127.0.0.1:<port> and forwards to ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._replies_flowing = asyncio.Event()  # server -> client only
        self._replies_flowing.set()
        self._rewrite: Callable[[], Rewrite] | None = None
        self.mode: Mode = "forward"
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def cut(self) -> None:
        """Close every open connection at once (new ones still go through)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def refuse(self) -> None:
        """Cut everything and close every new connection at once: the server is down."""
        self.mode = "refuse"
        self._flowing.set()
        self.cut()

    def freeze(self) -> None:
        """Hold every byte, open connections and new ones alike: a paused server."""
        self.mode = "freeze"
        self._flowing.clear()

    def freeze_replies(self) -> None:
        """Let bytes reach the server, but hold everything it sends back (its
        acknowledgements are lost on the way)."""
        self._replies_flowing.clear()

    def rewrite_replies(self, make: Callable[[], Rewrite] | None) -> None:
        """Pass what the server sends back on each *new* connection through
        ``make()`` (one rewrite per connection, so it may keep state across
        chunks); ``None`` forwards replies unchanged again."""
        self._rewrite = make

    def restore(self) -> None:
        self.mode = "forward"
        self._flowing.set()
        self._replies_flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.transport.abort()
            return
        await self._flowing.wait()  # a frozen server accepts nothing in time
        if self.mode == "refuse":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        rewrite = None if self._rewrite is None else self._rewrite()
        for source, sink, gate, change in (
            (reader, up_writer, self._flowing, None),
            (up_reader, writer, self._replies_flowing, rewrite),
        ):
            pump = self._pump(source, sink, gate, (writer, up_writer), change)
            task = asyncio.create_task(pump)
            self._links.add(task)
            task.add_done_callback(self._links.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        gate: asyncio.Event,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        rewrite: Rewrite | None,
    ) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                await gate.wait()
                sink.write(data if rewrite is None else rewrite(data))
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in pair:  # one side gone: the other goes too
                writer.transport.abort()
                self._writers.discard(writer)


@contextlib.asynccontextmanager
async def fault_proxy(target_host: str, target_port: int) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
