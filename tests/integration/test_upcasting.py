"""Old payloads are upcast when read — by the store, and so by everything that
reads through it (projections, replay) — and the log is never rewritten."""

from __future__ import annotations

import json
import uuid

import msgspec

from events.catalogue import MessageSent, MessageType
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore, create_pool
from projections.runner import ProjectionRunner
from projections.timeline import TimelineProjection
from read_api.time_travel import replay
from tests.conftest import MakeDatabase
from tests.factories import INSERT_OLD_ROW, message


async def test_message_sent_v1_rows_are_read_as_v2_everywhere(make_database: MakeDatabase) -> None:
    pool = await create_pool(await make_database())
    store = PostgresEventStore(pool)
    cid = uuid.uuid4()
    stream = f"conversation-{cid}"
    started = {
        "type": "ConversationStarted",
        "conversation_id": str(cid),
        "client": {"id": "c-1", "name": "Old Timer"},
        "channel": "email",
        "priority": "Low",
        "status": "active",
    }
    # As written by the first version: `kind` and a bare `attachment_url`.
    v1_message = {
        "type": "MessageSent",
        "conversation_id": str(cid),
        "message_id": str(uuid.uuid4()),
        "seq": 1,
        "sender": "client",
        "sender_id": "c-1",
        "kind": "image",
        "content": "see the photo",
        "attachment_url": "https://files.example/photo.jpg",
    }
    async with pool.acquire() as conn:
        await conn.execute(
            INSERT_OLD_ROW,
            1,
            stream,
            1,
            uuid.uuid4(),
            "ConversationStarted",
            1,
            json.dumps(started),
        )
        await conn.execute(
            INSERT_OLD_ROW, 2, stream, 2, uuid.uuid4(), "MessageSent", 1, json.dumps(v1_message)
        )
    try:
        # The store:
        [_, stored] = await store.read_stream(stream)
        assert isinstance(stored.data, MessageSent)
        assert stored.data.message_type is MessageType.IMAGE
        assert stored.data.attachment is not None
        assert stored.data.attachment.url == "https://files.example/photo.jpg"
        # ...the projections:
        runner = ProjectionRunner(TimelineProjection(), pool, store, None, Topology())  # type: ignore[arg-type]
        await runner.catch_up_from_store()
        row = await pool.fetchrow("SELECT message_type, attachment FROM messages")
        assert row is not None and row["message_type"] == "image"
        assert msgspec.json.decode(row["attachment"])["url"] == "https://files.example/photo.jpg"
        # ...and replay:
        state = await replay(store, cid, as_of=2)
        assert state.messages[0].message_type == "image"
        # The stored row itself is untouched.
        raw = await pool.fetchval("SELECT data FROM events WHERE global_position = 2")
        assert msgspec.json.decode(raw)["kind"] == "image"
        version = "SELECT schema_version FROM events WHERE global_position = $1"
        assert await pool.fetchval(version, 2) == 1
        # New MessageSent rows are written as v2.
        await store.append(stream, [message(cid, seq=2)], expected_version=2)
        assert await pool.fetchval(version, 3) == 2
    finally:
        await store.close()
        await pool.close()
