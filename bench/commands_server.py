"""The servers ``bench.commands`` loads, one process each.

``python -m bench.commands_server --port P --database-url URL --nats-url URL``
serves the real Parley app (``parley.app.create_app`` over a pool and a
NATS client, PARLEY_JWT_SECRET from the environment); with ``--bare``
instead, the bare endpoint: one ``POST /api/messages`` whose body is decoded
and validated into the same ``commands.model.SendMessage`` Struct, answering
201 with a made-up ``CommandResult`` of the same shape (no token check, no
I/O). Both through :func:`run`, so both get exactly the same uvicorn
settings: one process, uvloop, httptools, no access log, log level warning.
SIGTERM or SIGINT stops the server gracefully and closes the services before
the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
import uvloop
from litestar import Litestar, post
from litestar.params import JSONBody

from commands.handler import CommandResult
from commands.model import SendMessage

UVICORN_SETTINGS: dict[str, object] = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "log_level": "warning",
    "lifespan": "on",
    "workers": 1,
}
"""What both servers run with (as passed to ``uvicorn.Config`` below; reported)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled by run(): uvicorn's own handler re-raises the
        # signal after stopping, which would kill us before the services close.
        yield


def run(
    app_context: Callable[[], AbstractAsyncContextManager[Litestar]],
    port: int,
    **overrides: Any,
) -> None:
    """Serve the app ``app_context()`` yields on 127.0.0.1:``port`` until a
    signal, with :data:`UVICORN_SETTINGS` and ``overrides``."""

    async def main() -> None:
        async with app_context() as app:
            settings: dict[str, Any] = {**UVICORN_SETTINGS, **overrides}
            config = uvicorn.Config(app, host="127.0.0.1", port=port, **settings)
            server = _Server(config)
            loop = asyncio.get_running_loop()

            def stop() -> None:
                server.force_exit = server.should_exit
                server.should_exit = True

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop)
            await server.serve()

    uvloop.run(main())


def _parley(
    database_url: str, nats_url: str
) -> Callable[[], AbstractAsyncContextManager[Litestar]]:
    @contextlib.asynccontextmanager
    async def context() -> AsyncIterator[Litestar]:
        import nats

        from events.postgres.store import create_pool
        from parley.app import create_app
        from parley.settings import Settings

        settings = Settings.from_env(
            {
                "PARLEY_DATABASE_URL": database_url,
                "PARLEY_NATS_URL": nats_url,
                "PARLEY_JWT_SECRET": os.environ.get("PARLEY_JWT_SECRET", ""),
                # A prefix of its own: the app's presence bucket is this run's.
                "PARLEY_NATS_PREFIX": f"cmdbench{uuid.uuid4().hex[:8]}",
            }
        )
        # The app's two adapters, as `parley serve` connects them.
        pool = await create_pool(database_url, command_timeout=5.0)
        client = await nats.connect(nats_url, connect_timeout=5)
        try:
            yield create_app(settings, pool=pool, nats=client)
        finally:
            bucket = f"KV_{settings.nats_prefix.upper()}_PRESENCE"
            with contextlib.suppress(Exception):
                await client.jetstream().delete_stream(bucket)
            await client.close()
            await pool.close()

    return context


_MESSAGE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


@post("/api/messages", status_code=201)
async def send_message(data: JSONBody[SendMessage]) -> CommandResult:
    return CommandResult(
        conversation_id=data.conversation_id,
        position=1,
        version=2,
        events=["MessageSent"],
        message_id=_MESSAGE_ID,
        seq=1,
    )


@contextlib.asynccontextmanager
async def _bare() -> AsyncIterator[Litestar]:
    yield Litestar(route_handlers=[send_message])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commands_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bare", action="store_true", help="the bare endpoint, not Parley")
    parser.add_argument("--database-url")
    parser.add_argument("--nats-url")
    args = parser.parse_args()
    if args.bare:
        run(_bare, args.port)
    elif args.database_url and args.nats_url:
        run(_parley(args.database_url, args.nats_url), args.port)
    else:
        parser.error("Parley needs --database-url and --nats-url")


if __name__ == "__main__":
    main()
