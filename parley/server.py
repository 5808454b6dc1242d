"""Serving the app with uvicorn, stopping cleanly on SIGINT and SIGTERM.

uvicorn's own signal handling re-raises the signal once it has stopped, which
for SIGTERM kills the process before it could stop anything it started (the
adapters, the embedded servers). Here :class:`Shutdown` owns both signals for
the whole async part of a command instead: before the HTTP server runs, a
signal cancels the startup; after, it asks the server to finish its requests
and return (a second signal makes it hurry).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import gc
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import uvicorn
from litestar import Litestar

from parley.errors import StartupError
from parley.logs import json_logs

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ListenError(StartupError):
    """The HTTP server cannot listen where the settings say."""


class Shutdown:
    """The stop request of the running command (see the module docstring)."""

    def __init__(self) -> None:
        self.requested = False
        self.server: uvicorn.Server | None = None
        self._task = asyncio.current_task()

    def __call__(self) -> None:
        if self.server is not None:
            self.server.force_exit = self.server.should_exit
            self.server.should_exit = True
        elif not self.requested and self._task is not None:
            self._task.cancel()
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[Shutdown]:
        """Handle SIGINT and SIGTERM while in the block."""
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self)
        try:
            yield self
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[], None] | None,
        drain: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Let the app say goodbye first (WebSockets get 1001, not uvicorn's 1012)."""
        if self._drain is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._drain()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals belong to Shutdown

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            _freeze_what_lives_forever()
            if self._on_started is not None:
                self._on_started()


def _freeze_what_lives_forever() -> None:
    """Once the app has started, move every object alive now (modules,
    classes, the app, its pools: about 115,000 objects in ``parley serve``)
    out of the garbage collector's sight. They live as long as the process,
    and every full collection would otherwise walk them again, a pause for
    every socket on the node (docs/BENCHMARKS.md)."""
    gc.collect()
    gc.freeze()


def uvicorn_logging() -> dict[str, Any]:
    """uvicorn's own log set-up, with tokens redacted from its access log."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": "parley.logs.RedactTokens"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    return config


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the server, or :class:`ListenError`."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise ListenError(f"PARLEY_HTTP_HOST: cannot listen on {host!r}: unknown host") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        setting = "PARLEY_HTTP_PORT" if error.errno == errno.EADDRINUSE else "PARLEY_HTTP_HOST"
        problem = (error.strerror or str(error)).lower()
        raise ListenError(f"{setting}: cannot listen on {host}:{port}: {problem}") from None
    return sock


def http_address(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server listening on ``host``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    app: Litestar,
    sock: socket.socket,
    shutdown: Shutdown,
    *,
    log_level: str = "info",
    access_log: bool = True,
    on_started: Callable[[], None] | None = None,
) -> bool:
    """Serve ``app`` on ``sock`` until ``shutdown`` is requested; returns
    whether the server started at all."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=10,
        # Chat frames are small: permessage-deflate would cost ~37 KiB of memory
        # per socket and ~18 % of the CPU per delivery (docs/BENCHMARKS.md).
        ws_per_message_deflate=False,
        # No protocol-level pings: uvicorn's (every 20 s, 20 s to answer) would
        # cut a peer at ~40 s with 1011, beside the edge's HEARTBEAT, which is
        # the one liveness check (silent for two intervals: 4001, docs/PROTOCOL.md).
        ws_ping_interval=None,
        ws_ping_timeout=None,
        # JSON logs: uvicorn's loggers go through our root handler too.
        log_config=None if json_logs() else uvicorn_logging(),
    )
    server = _Server(config, on_started, drain=app.state.get("drain"))
    shutdown.server = server
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
    return server.started


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` in a new event loop (uvloop when installed)."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None

    async def wrapper() -> T:
        return await main()

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(wrapper())
