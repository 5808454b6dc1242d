"""The servers the benchmarks load, one process each (the app, bare commands, bare broadcast):
``python -m bench.servers --port P [parley --database-url URL --nats-url URL|commands|ws]``."""

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import signal
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import uvicorn
import uvloop
from litestar import Litestar, WebSocket, get, post, websocket
from litestar.params import JSONBody

from commands.handler import CommandResult
from commands.model import SendMessage
from ws_edge import frames

UVICORN_SETTINGS: dict[str, object] = {"loop": "uvloop", "http": "httptools", "workers": 1}
UVICORN_SETTINGS |= {"access_log": False, "log_level": "warning", "lifespan": "on"}
# What `parley serve` runs WebSockets with (parley/server.py), and 10 s graceful shutdown.
WS_SETTINGS = {"ws_per_message_deflate": False, "ws_ping_interval": None, "ws_ping_timeout": None}
groups: dict[uuid.UUID, set[WebSocket[Any, Any, Any]]] = defaultdict(set)
positions = itertools.count(1)
background: set[asyncio.Task[None]] = set()


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # run() handles signals: uvicorn's re-raises them before the services close
        yield


def run(app: contextlib.AbstractAsyncContextManager[Litestar], port: int, **more: Any) -> None:
    async def main() -> None:
        async with app as litestar:
            settings: Any = {**UVICORN_SETTINGS, **more}
            server = Server(uvicorn.Config(litestar, host="127.0.0.1", port=port, **settings))

            def stop() -> None:
                server.force_exit, server.should_exit = server.should_exit, True

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

    env = {"PARLEY_DATABASE_URL": database_url, "PARLEY_NATS_URL": nats_url}
    env["PARLEY_JWT_SECRET"] = os.environ.get("PARLEY_JWT_SECRET", "")
    env["PARLEY_NATS_PREFIX"] = f"cmdbench{uuid.uuid4().hex[:8]}"  # its own presence bucket
    settings = Settings.from_env(env)
    pool = await create_pool(database_url, command_timeout=5.0)  # as `parley serve` connects
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
    ids: dict[str, Any] = {"conversation_id": data.conversation_id, "message_id": message_id}
    return CommandResult(**ids, position=1, version=2, events=["MessageSent"], seq=1)


@websocket("/ws/{conversation_id:uuid}")
async def conversation_socket(socket: WebSocket[Any, Any, Any], conversation_id: uuid.UUID) -> None:
    await socket.accept()
    groups[conversation_id].add(socket)
    try:
        ready = frames.Ready(conversation_id=conversation_id, stream_position=1, position=0)
        await socket.send_data(frames.encode_frame(ready).decode())
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        groups[conversation_id].discard(socket)


async def send_all(text: str, sockets: list[WebSocket[Any, Any, Any]]) -> None:
    for socket in sockets:
        with contextlib.suppress(Exception):  # one went away: the others still get theirs
            await socket.send_data(text)


@post("/broadcast", status_code=202)
async def broadcast(data: JSONBody[SendMessage]) -> dict[str, int]:
    sockets, position = list(groups.get(data.conversation_id, ())), next(positions)
    sent: dict[str, Any] = {"content": data.content, "attachment": data.attachment, "seq": position}
    sent |= {"message_type": data.message_type, "client_message_id": data.client_message_id}
    sent |= {"conversation_id": data.conversation_id, "message_id": uuid.uuid4()}
    sent |= {"stream_position": position + 1, "position": position, "at": datetime.now(UTC)}
    frame = frames.encode_frame(frames.MessageCreated(**sent, sender="admin", sender_id="bench"))
    background.add(task := asyncio.create_task(send_all(frame.decode(), sockets)))
    task.add_done_callback(background.discard)
    return {"sockets": len(sockets)}


@get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("server", choices=["parley", "commands", "ws"], nargs="?", default="parley")
    parser.add_argument("--database-url")
    parser.add_argument("--nats-url")
    args = parser.parse_args()
    if args.server == "commands":
        run(contextlib.nullcontext(Litestar([send_message])), args.port)
    elif args.server == "ws":
        frozen = [lambda: gc.collect(), gc.freeze]  # as `parley serve` does once started
        app = Litestar([conversation_socket, broadcast, live], on_startup=frozen)
        run(contextlib.nullcontext(app), args.port, **WS_SETTINGS, timeout_graceful_shutdown=10)
    elif args.database_url and args.nats_url:
        run(parley_app(args.database_url, args.nats_url), args.port)
    else:
        parser.error("parley needs --database-url and --nats-url")


if __name__ == "__main__":
    main()
