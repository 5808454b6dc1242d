"""A session whose commands fail: PostgreSQL or NATS away (``Unavailable``),
or a failure of our own. The socket answers an ERROR and stays open. The
hub and store are real; the command handler stands in for one whose store
is away (or broken)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import nats

from commands import errors
from commands.model import Actor, Role
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore
from ws_edge import codes
from ws_edge.config import EdgeConfig
from ws_edge.conversation_session import ConversationSession
from ws_edge.hub import Hub
from ws_edge.ratelimit import RateLimiter


class Socket:
    """What a session needs of a WebSocket, fed by the test."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closing_with: int | None = None
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send_data(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def close(self, code: int, reason: str = "") -> None:
        self.closing_with = code


class FailingHandler:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def handle(self, command: object, actor: Actor) -> Any:
        raise self.error


async def answers(
    error: Exception, store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> list[dict[str, Any]]:
    """What a session says to a SEND_MESSAGE (ref m) then a PING (ref p)."""
    nc = await nats.connect(nats_url)
    socket = Socket()
    session = ConversationSession(
        socket,  # type: ignore[arg-type]
        actor=Actor(id="ann", role=Role.ADMIN),
        expires_at=None,
        conversation_id=uuid.uuid4(),
        after=0,
        hub=Hub(nc, Topology(prefix=f"{nats_prefix}r{uuid.uuid4().hex[:6]}"), typing_expiry=5),
        store=store,
        handler=FailingHandler(error),  # type: ignore[arg-type]
        limiter=RateLimiter({"message": 100, "typing": 10}),
        config=EdgeConfig(close_timeout=0.2),
    )
    running = asyncio.create_task(session.run())
    try:
        for frame in (
            {"type": "SEND_MESSAGE", "content": "hi", "ref": "m"},
            {"type": "PING", "ref": "p"},
        ):
            await socket.incoming.put({"type": "websocket.receive", "text": json.dumps(frame)})
        async with asyncio.timeout(5):
            while not any(f["type"] == "PONG" for f in socket.sent):
                await asyncio.sleep(0.01)
        assert not running.done() and socket.closing_with is None  # still open
        return [f for f in socket.sent if f["type"] in ("ERROR", "PONG")]
    finally:
        session.end(codes.NORMAL, "test over")
        await asyncio.wait_for(running, 5)
        await nc.close()


async def test_unavailable_is_an_error_with_retry_after_and_the_socket_stays_open(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> None:
    away = errors.Unavailable("PostgreSQL cannot be reached", retry_after=3)
    error, pong = await answers(away, store, nats_url, nats_prefix)
    assert (error["code"], error["ref"], error["retry_after"]) == ("unavailable", "m", 3.0)
    assert error["details"] == {"retry_after": 3}
    assert pong == {"type": "PONG", "ref": "p"}


async def test_a_failure_of_ours_is_an_internal_error_not_a_1011(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> None:
    error, pong = await answers(RuntimeError("a bug"), store, nats_url, nats_prefix)
    assert (error["code"], error["ref"]) == ("internal_error", "m")
    assert pong == {"type": "PONG", "ref": "p"}
