"""The bare Litestar WebSocket server ``bench.ws`` compares Parley's edge with:
sockets on ``/ws/{conversation_id}`` grouped by conversation (no token, no store,
no NATS) get a READY frame, then only receive. ``POST /broadcast`` with the body
of Parley's ``POST /api/messages`` (the same ``SendMessage``) answers 202 at once
and sends one MESSAGE_CREATED of Parley's shape (``ws_edge.frames``, encoded
once) to every socket of that conversation, one after the other. Served as
``parley serve`` serves Parley (uvicorn, uvloop, httptools, its WebSocket
settings, ``gc.freeze()`` once started), through ``bench.commands_server.run``::

    .venv/bin/python -m bench.ws_bare --port 8102
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from litestar import Litestar, WebSocket, get, post, websocket
from litestar.params import JSONBody

from bench.commands_server import run
from commands.model import SendMessage
from ws_edge import frames

# The WebSocket settings `parley serve` runs with (parley/server.py): no
# permessage-deflate, no protocol pings, 10 s graceful shutdown.
WS_SETTINGS: dict[str, object] = {
    "ws_per_message_deflate": False,
    "ws_ping_interval": None,
    "ws_ping_timeout": None,
    "timeout_graceful_shutdown": 10,
}
groups: dict[UUID, set[WebSocket[Any, Any, Any]]] = defaultdict(set)
positions = itertools.count(1)
background: set[asyncio.Task[None]] = set()


@websocket("/ws/{conversation_id:uuid}")
async def conversation_socket(socket: WebSocket[Any, Any, Any], conversation_id: UUID) -> None:
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
    sockets = list(groups.get(data.conversation_id, ()))
    position = next(positions)
    frame = frames.MessageCreated(
        conversation_id=data.conversation_id,
        stream_position=position + 1,
        position=position,
        at=datetime.now(UTC),
        message_id=uuid4(),
        seq=position,
        sender="admin",
        sender_id="bench",
        message_type=data.message_type,
        content=data.content,
        attachment=data.attachment,
        client_message_id=data.client_message_id,
    )
    task = asyncio.create_task(send_all(frames.encode_frame(frame).decode(), sockets))
    background.add(task)
    task.add_done_callback(background.discard)
    return {"sockets": len(sockets)}


@get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


def freeze() -> None:
    # As `parley serve` does once started: what lives for ever leaves the GC's sight.
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def bare_app() -> AsyncIterator[Litestar]:
    yield Litestar(route_handlers=[conversation_socket, broadcast, live], on_startup=[freeze])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.ws_bare")
    parser.add_argument("--port", type=int, required=True)
    run(bare_app, parser.parse_args().port, **WS_SETTINGS)
