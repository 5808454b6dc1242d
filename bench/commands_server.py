"""The servers ``bench.commands`` loads, one process each, with the same uvicorn
settings (also used by ``bench.ws_bare``)::

    python -m bench.commands_server --port P --database-url URL --nats-url URL
    python -m bench.commands_server --port P --bare

The first serves the real Parley app (``parley.app.create_app``, PARLEY_JWT_SECRET
from the environment); ``--bare`` one ``POST /api/messages`` that decodes and
validates the same ``SendMessage`` Struct and answers 201 with a made-up
``CommandResult`` (no token check, no I/O). SIGTERM or SIGINT stops the server
gracefully and closes the services before the process exits.
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


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled by run(): uvicorn's own handler re-raises the
        # signal after stopping, which would kill us before the services close.
        yield


def run(
    app_context: Callable[[], AbstractAsyncContextManager[Litestar]], port: int, **overrides: Any
) -> None:
    """Serve the app ``app_context()`` yields on 127.0.0.1:``port`` until a signal."""

    async def main() -> None:
        async with app_context() as app:
            settings: dict[str, Any] = {**UVICORN_SETTINGS, **overrides}
            server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, **settings))

            def stop() -> None:
                server.force_exit = server.should_exit
                server.should_exit = True

            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop)
            await server.serve()

    uvloop.run(main())


@contextlib.asynccontextmanager
async def parley_app(database_url: str, nats_url: str) -> AsyncIterator[Litestar]:
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
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(f"KV_{settings.nats_prefix.upper()}_PRESENCE")
        await client.close()
        await pool.close()


@post("/api/messages", status_code=201)
async def send_message(data: JSONBody[SendMessage]) -> CommandResult:
    message_id = uuid.UUID("00000000-0000-4000-8000-000000000001")
    return CommandResult(
        conversation_id=data.conversation_id,
        position=1,
        version=2,
        events=["MessageSent"],
        message_id=message_id,
        seq=1,
    )


@contextlib.asynccontextmanager
async def bare_app() -> AsyncIterator[Litestar]:
    yield Litestar(route_handlers=[send_message])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commands_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bare", action="store_true", help="the bare endpoint, not Parley")
    parser.add_argument("--database-url")
    parser.add_argument("--nats-url")
    args = parser.parse_args()
    if args.bare:
        run(bare_app, args.port)
    elif args.database_url and args.nats_url:
        run(lambda: parley_app(args.database_url, args.nats_url), args.port)
    else:
        parser.error("Parley needs --database-url and --nats-url")


if __name__ == "__main__":
    main()
