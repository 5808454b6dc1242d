"""The local feed knows appended events exactly as the store keeps them, so a
socket on the appending process gets the same frame as from a read."""

from __future__ import annotations

import asyncio
import uuid

from commands.model import stream_id_for
from events.envelope import Metadata, NewEvent
from events.postgres.store import PostgresEventStore
from tests.factories import messages
from ws_edge.local_feed import recorded


async def test_an_append_says_when_its_events_were_recorded_as_a_read_would(
    store: PostgresEventStore,
) -> None:
    cid = uuid.uuid4()
    stream = stream_id_for(cid)
    events = [
        NewEvent(event_id=e.event_id, data=e.data, metadata=Metadata(actor_id="ann"))
        for e in messages(3, cid)
    ]
    result = await store.append(stream, events, expected_version=0)

    assert result.recorded_at is not None
    assert recorded(events, result) == await store.read_stream(stream)


async def test_concurrent_appends_are_recorded_in_log_order(store: PostgresEventStore) -> None:
    streams = [stream_id_for(uuid.uuid4()) for _ in range(20)]
    results = await asyncio.gather(
        *(store.append(s, messages(2), expected_version=0) for s in streams)
    )

    times = [r.recorded_at for r in sorted(results, key=lambda r: r.first_global_position)]
    assert all(t is not None for t in times)
    assert times == sorted(times)
    log = await store.read_all(after=0, limit=1000)
    mine = {r.stream_id for r in results}
    assert [e.recorded_at for e in log if e.stream_id in mine] == sorted(
        e.recorded_at for e in log if e.stream_id in mine
    )
