"""The edge's fan-out hub over real NATS: every local subscriber of a
conversation gets its events, and a full mailbox never blocks the others."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import msgspec
import nats

from events.envelope import Metadata, RecordedEvent
from events.jetstream.relay import Topology
from tests.factories import message
from ws_edge import frames
from ws_edge.hub import Hub
from ws_edge.mailbox import Delivery, Subscriber
from ws_edge.typists import TypingSignal

_prefixes = itertools.count()


def recorded(conversation_id: uuid.UUID, position: int) -> RecordedEvent:
    new = message(conversation_id, seq=position)
    return RecordedEvent(
        global_position=position,
        stream_id=f"conversation-{conversation_id}",
        stream_position=position + 1,
        event_id=new.event_id,
        type=new.type,
        data=new.data,
        metadata=Metadata(),
        recorded_at=datetime.now(UTC),
    )


async def test_a_full_mailbox_is_marked_overflowed_and_does_not_hold_up_the_others(
    nats_url: str, nats_prefix: str
) -> None:
    topology = Topology(prefix=f"{nats_prefix}h{next(_prefixes)}")
    nc = await nats.connect(nats_url)
    hub = Hub(nc, topology, typing_expiry=5)
    await hub.start()
    cid, other = uuid.uuid4(), uuid.uuid4()
    overflows: list[str] = []
    slow = Subscriber(cid, queue_size=3, on_overflow=lambda: overflows.append("slow"))
    fast = Subscriber(cid, queue_size=100)
    inbox = Subscriber(None, queue_size=100)
    elsewhere = Subscriber(other, queue_size=100)
    for subscriber in (slow, fast, inbox, elsewhere):
        hub.add(subscriber)
    try:
        for position in range(1, 11):
            event = recorded(cid, position)
            await nc.publish(topology.subject(event), msgspec.json.encode(event))
        await nc.flush()
        async with asyncio.timeout(5):
            while len(fast.mailbox) < 10:
                await asyncio.sleep(0.01)

        assert slow.overflowed and overflows == ["slow"]  # told once
        assert len(slow.mailbox) == 3  # it kept what fitted, nothing blocked
        deliveries = [await fast.mailbox.take() for _ in range(10)]
        assert [d.event.global_position for d in deliveries] == list(range(1, 11))  # type: ignore[union-attr]
        assert len(inbox.mailbox) == 10
        assert not elsewhere.mailbox
    finally:
        await hub.stop()
        await nc.close()


async def test_typing_is_not_echoed_and_expires_when_its_node_stops_refreshing(
    nats_url: str, nats_prefix: str
) -> None:
    topology = Topology(prefix=f"{nats_prefix}h{next(_prefixes)}")
    nc = await nats.connect(nats_url)
    hub = Hub(nc, topology, typing_expiry=0.5)
    await hub.start()
    cid = uuid.uuid4()
    typist, watcher = Subscriber(cid, queue_size=10), Subscriber(cid, queue_size=10)
    hub.add(typist)
    hub.add(watcher)
    try:
        signal = TypingSignal(
            conversation_id=cid, user_id="alice", role="admin", state="started", session=typist.id
        )
        await hub.publish_typing(signal)
        await hub.publish_typing(signal)  # a keep-alive: no second frame
        started = await asyncio.wait_for(watcher.mailbox.take(), 5)
        # No refresh for longer than the expiry (as if the typist's node died).
        stopped = await asyncio.wait_for(watcher.mailbox.take(), 5)
        assert (started.state, stopped.state) == ("started", "stopped")  # type: ignore[union-attr]
        assert not typist.mailbox and not watcher.mailbox
    finally:
        await hub.stop()
        await nc.close()


async def test_an_event_from_this_process_goes_out_once_whichever_path_brings_it_first(
    nats_url: str, nats_prefix: str
) -> None:
    """The local feed and NATS both bring a process's own events: a
    conversation's sockets get each once, the inbox gets them from NATS (in
    log order), and a late or repeated copy is not fanned out again."""
    topology = Topology(prefix=f"{nats_prefix}h{next(_prefixes)}")
    nc = await nats.connect(nats_url)
    hub = Hub(nc, topology, typing_expiry=5)
    await hub.start()
    cid = uuid.uuid4()
    socket, inbox = Subscriber(cid, queue_size=100), Subscriber(None, queue_size=100)
    hub.add(socket)
    hub.add(inbox)
    try:
        first, second = recorded(cid, 1), recorded(cid, 2)
        hub.deliver(first, local=True)
        hub.deliver(second, local=True)
        assert not inbox.mailbox  # the inbox waits for NATS
        for event in (first, second, first):  # NATS: both, then a redelivery
            await nc.publish(topology.subject(event), msgspec.json.encode(event))
        await nc.flush()
        async with asyncio.timeout(5):
            while len(inbox.mailbox) < 3:
                await asyncio.sleep(0.01)

        sent = [await socket.mailbox.take() for _ in range(len(socket.mailbox))]
        assert [d.event.stream_position for d in sent] == [2, 3]  # type: ignore[union-attr]
        assert len(inbox.mailbox) == 3  # the inbox session de-duplicates by position
    finally:
        await hub.stop()
        await nc.close()


@contextlib.asynccontextmanager
async def idle_hub(nats_url: str, nats_prefix: str) -> AsyncIterator[Hub]:
    """A hub for ``deliver`` calls (not listening to NATS)."""
    nc = await nats.connect(nats_url)
    try:
        yield Hub(nc, Topology(prefix=f"{nats_prefix}h{next(_prefixes)}"), typing_expiry=5)
    finally:
        await nc.close()


def fast_path(sent: list[Delivery]) -> Callable[[Delivery], bool]:
    """A socket's fast path that takes every delivery (noting it in ``sent``)."""

    def send_now(delivery: Delivery) -> bool:
        sent.append(delivery)
        return True

    return send_now


async def test_a_socket_with_nothing_queued_gets_a_live_event_in_the_next_turn_without_its_writer(
    nats_url: str, nats_prefix: str
) -> None:
    cid = uuid.uuid4()
    sent: list[Delivery] = []
    idle = Subscriber(cid, queue_size=10, send_now=fast_path(sent))
    busy = Subscriber(cid, queue_size=10, send_now=lambda delivery: False)  # its writer is busy
    plain = Subscriber(cid, queue_size=10)  # no fast path (an inbox socket)
    async with idle_hub(nats_url, nats_prefix) as hub:
        for subscriber in (idle, busy, plain):
            hub.add(subscriber)

        hub.deliver(recorded(cid, 1), local=True)
        assert sent == [] and not idle.mailbox  # held: the appender's reply goes out first
        await asyncio.sleep(0)

    assert [d.event.stream_position for d in sent] == [2] and not idle.mailbox
    assert len(busy.mailbox) == 1 and len(plain.mailbox) == 1


async def test_a_frame_queued_behind_a_held_event_goes_out_after_it(
    nats_url: str, nats_prefix: str
) -> None:
    # A SEND_MESSAGE's ACK is queued in the same turn as its event is held:
    # the event is queued first, so the ACK still follows its MESSAGE_CREATED.
    cid = uuid.uuid4()
    sent: list[Delivery] = []
    sender = Subscriber(cid, queue_size=10, send_now=fast_path(sent))
    async with idle_hub(nats_url, nats_prefix) as hub:
        hub.add(sender)

        hub.deliver(recorded(cid, 1), local=True)
        sender.offer(frames.Pong(ref="ack"))
        await asyncio.sleep(0)

    assert sent == []
    first, second = await sender.mailbox.take(), await sender.mailbox.take()
    assert isinstance(first, Delivery) and first.event.stream_position == 2
    assert second == frames.Pong(ref="ack")
