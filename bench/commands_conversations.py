"""The conversations bench.commands seeds straight into the store, and the
sequential sends that compare a long one with a short one."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID, uuid4

import httpx

from bench.common import log, percentile
from commands.model import stream_id_for
from events.catalogue import (
    Channel,
    Client,
    ConversationStarted,
    MessageSent,
    MessagesRead,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, NewEvent
from events.postgres.store import PostgresEventStore, create_pool

# ~120 characters, JSON-safe as it is (the Lua script pastes it into bodies).
CONTENT = (
    "Hello, my parcel (order 48213) still shows label created after five days. "
    "Could you check with the courier, please? Thanks!"
)
STAFF_ID = "alice"
SEED_BATCH = 2000


@dataclass(frozen=True)
class Seeded:
    """A conversation written straight to the store."""

    label: str
    conversation_id: UUID
    client_id: str
    messages: int
    reads_every: int | None
    events: int


def conversation_events(
    conversation_id: UUID, client_id: str, messages: int, reads_every: int | None
) -> list[NewEvent]:
    """ConversationStarted, then ``messages`` messages. With ``reads_every``,
    senders alternate client (odd seqs) / admin (even seqs) and after every
    ``reads_every``-th message both sides mark everything read; without it,
    every message is the client's and nobody reads."""
    client_meta = Metadata(actor_id=client_id, actor_role="client")
    staff_meta = Metadata(actor_id=STAFF_ID, actor_role="admin")
    events = [
        NewEvent(
            event_id=uuid4(),
            data=ConversationStarted(
                conversation_id=conversation_id,
                client=Client(id=client_id, name="Bench Client"),
                channel=Channel.WEB,
                priority=Priority.MEDIUM,
                status=Status.ACTIVE,
            ),
            metadata=staff_meta,
        )
    ]
    for seq in range(1, messages + 1):
        by_client = reads_every is None or seq % 2 == 1
        events.append(
            NewEvent(
                event_id=uuid4(),
                data=MessageSent(
                    conversation_id=conversation_id,
                    message_id=uuid4(),
                    seq=seq,
                    sender=Side.CLIENT if by_client else Side.ADMIN,
                    sender_id=client_id if by_client else STAFF_ID,
                    content=CONTENT,
                ),
                metadata=client_meta if by_client else staff_meta,
            )
        )
        if reads_every is not None and seq % reads_every == 0:
            for reader, reader_id, meta in (
                (Side.ADMIN, STAFF_ID, staff_meta),
                (Side.CLIENT, client_id, client_meta),
            ):
                events.append(
                    NewEvent(
                        event_id=uuid4(),
                        data=MessagesRead(
                            conversation_id=conversation_id,
                            reader=reader,
                            reader_id=reader_id,
                            up_to_seq=seq,
                        ),
                        metadata=meta,
                    )
                )
    return events


async def seed(
    store: PostgresEventStore, label: str, client_id: str, messages: int, reads_every: int | None
) -> Seeded:
    conversation_id = uuid4()
    events = conversation_events(conversation_id, client_id, messages, reads_every)
    stream_id = stream_id_for(conversation_id)
    version = 0
    for start in range(0, len(events), SEED_BATCH):
        batch = events[start : start + SEED_BATCH]
        result = await store.append(stream_id, batch, version)
        version = result.last_stream_position
    return Seeded(label, conversation_id, client_id, messages, reads_every, len(events))


async def seed_all(
    url: str, long_messages: int, short_messages: int, worst_messages: int
) -> dict[str, Seeded]:
    pool = await create_pool(url, min_size=2, max_size=4)
    try:
        store = PostgresEventStore(pool)
        try:
            started = time.perf_counter()
            plans: list[tuple[str, str, int, int | None]] = [
                ("long", "c-long", long_messages, 10),
                ("short", "c-short", short_messages, 10),
            ]
            if worst_messages > 0:
                plans += [
                    ("worst", "c-worst", worst_messages, None),
                    ("worst-short", "c-worst", short_messages, None),
                ]
            seeded = await asyncio.gather(*(seed(store, *plan) for plan in plans))
            total = sum(s.events for s in seeded)
            log(f"seeded {total:,} events in {time.perf_counter() - started:.1f} s")
        finally:
            await store.close()
        # As autovacuum would have done by the time a conversation is this
        # long (and it may be off on the server): statistics, visibility map,
        # hint bits; so neither the measurements nor the cold reads pay for it.
        await pool.execute("VACUUM (ANALYZE) events")
    finally:
        await pool.close()
    return {s.label: s for s in seeded}


# -- servers -------------------------------------------------------------------------


@dataclass
class LengthRun:
    name: str
    sender: str
    long_label: str
    short_label: str
    long_events: int
    short_events: int
    first_is_cold: bool
    first_long_ms: float
    first_short_ms: float
    requests_each: int
    long_p50_ms: float
    long_p99_ms: float
    short_p50_ms: float
    short_p99_ms: float
    ratio_p50: float
    non_201: int


async def sequential_sends(
    base_url: str,
    token: str,
    name: str,
    sender: str,
    long: Seeded,
    short: Seeded,
    requests_each: int,
    first_is_cold: bool,
) -> LengthRun:
    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[UUID, list[float]] = {long.conversation_id: [], short.conversation_id: []}
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as client:
        await client.get("/health/live")  # open the connection first

        async def send(conversation_id: UUID) -> float:
            body = {"conversation_id": str(conversation_id), "content": CONTENT}
            started = time.perf_counter()
            response = await client.post("/api/messages", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")
            return elapsed

        first_long = await send(long.conversation_id)
        first_short = await send(short.conversation_id)
        for _ in range(requests_each):
            for conversation_id in (long.conversation_id, short.conversation_id):
                timings[conversation_id].append(await send(conversation_id))
    if failures:
        log(f"  {len(failures)} requests failed, e.g. {failures[0]}")
    long_p50 = percentile(timings[long.conversation_id], 50)
    short_p50 = percentile(timings[short.conversation_id], 50)
    return LengthRun(
        name=name,
        sender=sender,
        long_label=_describe(long),
        short_label=_describe(short),
        long_events=long.events,
        short_events=short.events,
        first_is_cold=first_is_cold,
        first_long_ms=first_long,
        first_short_ms=first_short,
        requests_each=requests_each,
        long_p50_ms=long_p50,
        long_p99_ms=percentile(timings[long.conversation_id], 99),
        short_p50_ms=short_p50,
        short_p99_ms=percentile(timings[short.conversation_id], 99),
        ratio_p50=long_p50 / short_p50,
        non_201=len(failures),
    )


def _describe(s: Seeded) -> str:
    if s.reads_every is None:
        return f"{s.messages:,} unread client messages"
    return f"{s.messages:,} messages, read every {s.reads_every}"
