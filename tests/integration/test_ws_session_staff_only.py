"""A session's writer, live: a client's conversation socket gets no frame
of a private note or a label, by the fast path or through its mailbox (a
socket that cannot take more for a while), and what it skips is no gap to
fill from the store; a staff socket gets them all. The socket here stands in
for uvicorn's (``PausableSocket``); the hub, NATS and the store are real."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import nats

from commands.handler import CommandHandler
from commands.model import Actor, Role
from events.catalogue import (
    AnyEvent,
    ConversationLabelled,
    MessageSent,
    NoteAdded,
    Side,
    event_type,
)
from events.envelope import Metadata, RecordedEvent
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore
from tests.integration.test_ws_session import PausableSocket
from ws_edge import codes
from ws_edge.config import EdgeConfig
from ws_edge.conversation_session import ConversationSession
from ws_edge.hub import Hub
from ws_edge.ratelimit import RateLimiter

_prefixes = itertools.count()
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
ANN = Actor(id="ann", role=Role.ADMIN)


def event(cid: uuid.UUID, position: int) -> RecordedEvent:
    """Stream position ``position`` of ``cid``: a message, a note or a label by turns."""
    data: AnyEvent
    match position % 3:
        case 0:
            data = NoteAdded(
                conversation_id=cid, note_id=uuid.uuid4(), author_id="ann", content="psst"
            )
        case 1:
            data = ConversationLabelled(conversation_id=cid, label_id="vip", by="ann")
        case _:
            data = MessageSent(
                conversation_id=cid,
                message_id=uuid.uuid4(),
                seq=position,
                sender=Side.CLIENT,
                sender_id="c-1",
                content=f"message {position}",
            )
    return RecordedEvent(
        global_position=position,
        stream_id=f"conversation-{cid}",
        stream_position=position,
        event_id=uuid.uuid4(),
        type=event_type(data),
        data=data,
        metadata=Metadata(),
        recorded_at=datetime.now(UTC),
    )


@dataclass
class Sockets:
    hub: Hub
    client: PausableSocket
    staff: PausableSocket
    cid: uuid.UUID

    def deliver(self, position: int) -> None:
        self.hub.deliver(event(self.cid, position), local=True)


@asynccontextmanager
async def two_sessions(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> AsyncIterator[Sockets]:
    """A client's and a staff socket on one conversation, READY at position 1."""
    nc = await nats.connect(nats_url)
    hub = Hub(nc, Topology(prefix=f"{nats_prefix}so{next(_prefixes)}"), typing_expiry=5)
    cid = uuid.uuid4()
    sockets = Sockets(hub, PausableSocket(), PausableSocket(), cid)
    sessions = [
        ConversationSession(
            socket,  # type: ignore[arg-type]
            actor=actor,
            expires_at=None,
            conversation_id=cid,
            after=1,
            hub=hub,
            store=store,
            handler=CommandHandler(store),
            limiter=RateLimiter({"message": 100, "typing": 10}),
            config=EdgeConfig(queue_size=100, close_timeout=0.2),
        )
        for socket, actor in ((sockets.client, CAROL), (sockets.staff, ANN))
    ]
    tasks = [asyncio.create_task(session.run()) for session in sessions]
    try:
        async with asyncio.timeout(5):
            while not (sockets.client.sent and sockets.staff.sent):  # READY
                await asyncio.sleep(0.01)
        yield sockets
    finally:
        for session in sessions:
            session.end(codes.GOING_AWAY, "test over")
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await nc.close()


def positions(socket: PausableSocket) -> list[int]:
    return [f["stream_position"] for f in socket.sent if "stream_position" in f][1:]  # not READY


async def until_sent(socket: PausableSocket, count: int) -> None:
    async with asyncio.timeout(5):
        while len(positions(socket)) < count:
            await asyncio.sleep(0.01)


async def test_the_fast_path_skips_notes_and_labels_for_a_client_and_keeps_going(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> None:
    async with two_sessions(store, nats_url, nats_prefix) as sockets:
        for position in range(2, 11):
            sockets.deliver(position)
            await asyncio.sleep(0)  # the loop's turn: each goes by the fast path
        await until_sent(sockets.staff, 9)
        await until_sent(sockets.client, 3)

        assert positions(sockets.staff) == list(range(2, 11))
        assert positions(sockets.client) == [2, 5, 8]
        assert {f["type"] for f in sockets.client.sent} == {"READY", "MESSAGE_CREATED"}


async def test_through_the_mailbox_too_and_what_is_skipped_is_no_gap(
    store: PostgresEventStore, nats_url: str, nats_prefix: str
) -> None:
    """The store has none of these events: a gap filled from it would lose
    the messages after a note; the client must get every one of them."""
    async with two_sessions(store, nats_url, nats_prefix) as sockets:
        sockets.client.writable.clear()  # its sends wait: the rest queue
        for position in range(2, 15):
            sockets.deliver(position)
        sockets.client.writable.set()
        await until_sent(sockets.client, 5)
        await until_sent(sockets.staff, 13)

        assert positions(sockets.client) == [2, 5, 8, 11, 14]
        assert {f["type"] for f in sockets.client.sent} == {"READY", "MESSAGE_CREATED"}
        kinds = [f["type"] for f in sockets.staff.sent[1:4]]
        assert kinds == ["MESSAGE_CREATED", "NOTE_ADDED", "LABELLED"]
