"""The hub names agents in frames (its directory looks up, over the real
store, a name it has not heard of through NATS), encodes an assignment a
second time, redacted, only for clients' sockets, and sends staff directory
changes to inbox sockets only."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats
from nats.aio.client import Client as NATS

from events.catalogue import (
    AgentAvailabilityChanged,
    AgentRegistered,
    AnyEvent,
    Availability,
    ConversationAssigned,
    MessageSent,
    Side,
    event_type,
)
from events.envelope import AppendResult, Metadata, NewEvent, RecordedEvent
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore
from ws_edge.directory import Directory
from ws_edge.hub import Hub
from ws_edge.local_feed import LocalFeed
from ws_edge.mailbox import Delivery, Subscriber


def recorded(data: AnyEvent, stream_position: int, stream_id: str = "x") -> RecordedEvent:
    return RecordedEvent(
        global_position=stream_position,
        stream_id=stream_id,
        stream_position=stream_position,
        event_id=uuid.uuid4(),
        type=event_type(data),
        data=data,
        metadata=Metadata(),
        recorded_at=datetime.now(UTC),
    )


async def register(store: PostgresEventStore, name: str) -> str:
    agent_id = f"hub-{name.lower()}-{uuid.uuid4().hex[:8]}"
    registered = AgentRegistered(agent_id=agent_id, display_name=name, capacity=5)
    await store.append(f"agent-{agent_id}", [NewEvent(event_id=uuid.uuid4(), data=registered)], 0)
    return agent_id


@asynccontextmanager
async def listening_hub(
    nats_url: str, nats_prefix: str, store: PostgresEventStore
) -> AsyncIterator[tuple[Hub, Topology, NATS]]:
    topology = Topology(prefix=f"{nats_prefix}n{uuid.uuid4().hex[:6]}")
    nc = await nats.connect(nats_url)
    hub = Hub(nc, topology, typing_expiry=5, directory=Directory(store))
    await hub.start()
    try:
        yield hub, topology, nc
    finally:
        await hub.stop()
        await nc.close()


async def publish(nc: NATS, topology: Topology, *events: RecordedEvent) -> None:
    for event in events:
        await nc.publish(topology.subject(event), msgspec.json.encode(event))
    await nc.flush()


async def taken(subscriber: Subscriber) -> Delivery:
    item = await asyncio.wait_for(subscriber.mailbox.take(), 5)
    assert isinstance(item, Delivery)
    return item


def text(delivery: Delivery, staff: bool) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(delivery.text_for(staff))
    return frame


async def test_an_assignment_names_the_agent_for_staff_and_tells_clients_the_name_only(
    nats_url: str, nats_prefix: str, store: PostgresEventStore
) -> None:
    agent = await register(store, "Nora")  # never heard through NATS: looked up
    cid = uuid.uuid4()
    staff, client = Subscriber(cid, queue_size=10), Subscriber(cid, queue_size=10, staff=False)
    inbox = Subscriber(None, queue_size=10)
    async with listening_hub(nats_url, nats_prefix, store) as (hub, topology, nc):
        for subscriber in (staff, client, inbox):
            hub.add(subscriber)
        assigned = ConversationAssigned(conversation_id=cid, agent_id=agent, by="alice")
        await publish(nc, topology, recorded(assigned, 2))

        to_staff, to_client, to_inbox = [await taken(s) for s in (staff, client, inbox)]
    assert to_staff is to_client is to_inbox  # one delivery, encoded for both kinds
    full, redacted = text(to_staff, staff=True), text(to_client, staff=False)
    assert (full["agent_id"], full["agent_name"], full["by"]) == (agent, "Nora", "alice")
    assert redacted["agent_name"] == "Nora" and redacted["stream_position"] == 2
    assert [redacted[f] for f in ("agent_id", "team_id", "team_name", "by", "reason")] == [None] * 5


async def test_without_a_client_socket_there_is_no_second_text(
    nats_url: str, nats_prefix: str, store: PostgresEventStore
) -> None:
    cid = uuid.uuid4()
    staff = Subscriber(cid, queue_size=10)
    async with listening_hub(nats_url, nats_prefix, store) as (hub, topology, nc):
        hub.add(staff)
        assigned = ConversationAssigned(conversation_id=cid, agent_id="nobody", by="alice")
        await publish(nc, topology, recorded(assigned, 2))
        delivery = await taken(staff)
    assert delivery.client_text is None
    assert text(delivery, staff=True)["agent_name"] is None  # not in the directory


async def test_a_message_by_an_unnamed_agent_waits_for_nats_and_goes_out_named(
    nats_url: str, nats_prefix: str, store: PostgresEventStore
) -> None:
    agent = await register(store, "Omar")
    cid = uuid.uuid4()
    socket = Subscriber(cid, queue_size=10)
    reply = MessageSent(
        conversation_id=cid, message_id=uuid.uuid4(), seq=1, sender=Side.ADMIN,
        sender_id=agent, content="hello",
    )  # fmt: skip
    event = recorded(reply, 2, f"conversation-{cid}")
    result = AppendResult(
        stream_id=event.stream_id,
        first_stream_position=2,
        last_stream_position=2,
        first_global_position=2,
        last_global_position=2,
        recorded_at=event.recorded_at,
    )
    new = NewEvent(event_id=event.event_id, data=reply)
    async with listening_hub(nats_url, nats_prefix, store) as (hub, topology, nc):
        hub.add(socket)
        LocalFeed(hub).appended([new], result)
        assert not socket.mailbox  # the local feed does not wait for a lookup
        await publish(nc, topology, event)
        delivery = await taken(socket)
        assert text(delivery, staff=True)["sender_name"] == "Omar"
        # Now known: the local feed delivers the next one at once.
        assert hub.directory.knows([reply])


async def test_staff_directory_changes_go_to_inbox_sockets_only(
    nats_url: str, nats_prefix: str, store: PostgresEventStore
) -> None:
    agent = await register(store, "Pia")
    cid = uuid.uuid4()
    conversation, inbox = Subscriber(cid, queue_size=10), Subscriber(None, queue_size=10)
    async with listening_hub(nats_url, nats_prefix, store) as (hub, topology, nc):
        hub.add(conversation)
        hub.add(inbox)
        away = AgentAvailabilityChanged(agent_id=agent, availability=Availability.AWAY)
        await publish(nc, topology, recorded(away, 2, f"agent-{agent}"))
        changed = text(await taken(inbox), staff=True)
    assert changed["type"] == "STAFF_CHANGED" and changed["availability"] == "away"
    assert changed["display_name"] == "Pia"
    assert not conversation.mailbox
