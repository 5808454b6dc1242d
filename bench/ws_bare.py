"""The bare Litestar WebSocket server ``bench.ws`` compares Parley's edge with.

It keeps the sockets connected to ``/ws/{conversation_id}`` grouped by
conversation (no token, no store, no NATS): a socket is accepted, gets a
READY frame, and then only receives. ``POST /broadcast`` with the body of
Parley's ``POST /api/messages`` (validated into the same
``commands.model.SendMessage``) answers 202 at once and sends one
MESSAGE_CREATED frame of the same shape as Parley's (``ws_edge.frames``,
encoded once) to every socket of that conversation, one ``send_data`` after
the other. ``GET /health/live`` answers when it is up.

It is served as ``parley serve --log-level warning`` serves Parley (uvicorn,
uvloop, httptools, uvicorn's default WebSocket protocol, and the WebSocket
settings of ``parley/server.py``: no permessage-deflate, no protocol pings;
``gc.freeze()`` once started; no access log), through ``bench.commands_server.run``::

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

_groups: dict[UUID, set[WebSocket[Any, Any, Any]]] = defaultdict(set)
_positions = itertools.count(1)
_background: set[asyncio.Task[None]] = set()


@websocket("/ws/{conversation_id:uuid}")
async def conversation_socket(socket: WebSocket[Any, Any, Any], conversation_id: UUID) -> None:
    await socket.accept()
    group = _groups[conversation_id]
    group.add(socket)
    try:
        ready = frames.Ready(conversation_id=conversation_id, stream_position=1, position=0)
        await socket.send_data(frames.encode_frame(ready).decode())
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
    finally:
        group.discard(socket)


async def _broadcast(text: str, sockets: list[WebSocket[Any, Any, Any]]) -> None:
    for socket in sockets:
        try:
            await socket.send_data(text)
        except Exception:  # a socket that went away: the others still get theirs
            continue


@post("/broadcast", status_code=202)
async def broadcast(data: JSONBody[SendMessage]) -> dict[str, int]:
    sockets = list(_groups.get(data.conversation_id, ()))
    position = next(_positions)
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
    text = frames.encode_frame(frame).decode()
    task = asyncio.create_task(_broadcast(text, sockets))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"sockets": len(sockets)}


@get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


WS_SETTINGS: dict[str, object] = {
    "ws_per_message_deflate": False,
    "ws_ping_interval": None,
    "ws_ping_timeout": None,
    "timeout_graceful_shutdown": 10,
}


def _freeze() -> None:
    # As `parley serve` does once started: what lives for ever leaves the GC's sight.
    gc.collect()
    gc.freeze()


def create_app() -> Litestar:
    return Litestar(route_handlers=[conversation_socket, broadcast, live], on_startup=[_freeze])


@contextlib.asynccontextmanager
async def _context() -> AsyncIterator[Litestar]:
    yield create_app()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_bare")
    parser.add_argument("--port", type=int, required=True)
    # The WebSocket settings `parley serve` runs with (parley/server.py): no
    # permessage-deflate, no protocol pings, 10 s graceful shutdown.
    run(_context, parser.parse_args().port, **WS_SETTINGS)


if __name__ == "__main__":
    main()
