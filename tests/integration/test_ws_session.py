"""A session's fast path when its socket cannot take more: frames keep their
order, and a socket that stays stuck is closed as a slow consumer (4000)
without holding up the hub. The socket here stands in for uvicorn's, whose
send waits while the transport is paused; the hub, NATS and the store are
real."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import nats

from commands.handler import CommandHandler
from commands.model import Actor, Role
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore
from tests.integration.test_ws_hub import recorded
from ws_edge import codes
from ws_edge.config import EdgeConfig
from ws_edge.conversation_session import ConversationSession
from ws_edge.hub import Hub
from ws_edge.ratelimit import RateLimiter

_prefixes = itertools.count()


class PausableSocket:
    """What a session needs of a WebSocket; ``writable`` cleared = the
    client stopped reading (sends wait, as uvicorn's do)."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.sent: list[dict[str, Any]] = []
        self.closing_with: int | None = None  # close called with
        self.closed_with: int | None = None  # close frame out
        self._incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send_data(self, text: str) -> None:
        await self.writable.wait()
        self.sent.append(json.loads(text))

    async def receive(self) -> dict[str, Any]:
        return await self._incoming.get()

    async def close(self, code: int, reason: str = "") -> None:
        self.closing_with = code
        await self.writable.wait()  # the close frame queues behind the rest, too
        self.closed_with = code

    def positions(self) -> list[int]:
        return [f["stream_position"] for f in self.sent if f["type"] == "MESSAGE_CREATED"]


@dataclass
class Running:
    """A session running on a ``PausableSocket``, and the hub that feeds it."""

    hub: Hub
    socket: PausableSocket
    task: asyncio.Task[None]
    conversation_id: uuid.UUID

    def deliver(self, position: int) -> None:
        """The event at global ``position`` (stream position ``position + 1``)."""
        self.hub.deliver(recorded(self.conversation_id, position), local=True)


@asynccontextmanager
async def running_session(
    store: PostgresEventStore, nats_url: str, nats_prefix: str, queue_size: int
) -> AsyncIterator[Running]:
    nc = await nats.connect(nats_url)
    hub = Hub(nc, Topology(prefix=f"{nats_prefix}s{next(_prefixes)}"), typing_expiry=5)
    socket, cid = PausableSocket(), uuid.uuid4()
    session = ConversationSession(
        socket,  # type: ignore[arg-type]
        actor=Actor(id="ann", role=Role.ADMIN),
        expires_at=None,
        conversation_id=cid,
        after=1,  # its stream's first event (ConversationStarted) seen
        hub=hub,
        store=store,
        handler=CommandHandler(store),
        limiter=RateLimiter({"message": 100, "typing": 10}),
        config=EdgeConfig(queue_size=queue_size, close_timeout=0.2),
    )
    task = asyncio.create_task(session.run())
    try:
        async with asyncio.timeout(5):
            while not socket.sent:  # READY
                await asyncio.sleep(0.01)
        yield Running(hub, socket, task, cid)
    finally:
        session.end(codes.GOING_AWAY, "test over")
        await asyncio.wait_for(task, 5)
        await nc.close()


async def test_events_sent_while_the_socket_is_stuck_go_out_in_order_once_it_reads_again(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> None:
    async with running_session(store, nats_url, nats_prefix, queue_size=10) as running:
        socket = running.socket
        running.deliver(1)  # stream position 2: straight out
        await asyncio.sleep(0.05)
        assert socket.positions() == [2]

        socket.writable.clear()
        for position in range(2, 6):  # 3 waits in its send; 4, 5, 6 queue behind it
            running.deliver(position)
            await asyncio.sleep(0.01)
        assert socket.positions() == [2]

        socket.writable.set()
        async with asyncio.timeout(5):
            while len(socket.positions()) < 5:
                await asyncio.sleep(0.01)
        assert socket.positions() == [2, 3, 4, 5, 6]


async def test_a_socket_stuck_for_longer_than_its_mailbox_is_closed_as_a_slow_consumer(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> None:
    async with running_session(store, nats_url, nats_prefix, queue_size=5) as running:
        socket = running.socket
        socket.writable.clear()
        for position in range(1, 9):  # one in the stuck send, 5 queued, then no room
            running.deliver(position)
            await asyncio.sleep(0)

        # Closed without waiting for a client that reads nothing: the close
        # frame cannot get through either (close_timeout, here 0.2 s).
        await asyncio.wait_for(asyncio.shield(running.task), 5)
        assert socket.closing_with == codes.SLOW_CONSUMER and socket.closed_with is None
        assert socket.positions() == []  # nothing got through the stuck socket
