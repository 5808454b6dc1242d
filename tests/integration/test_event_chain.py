"""The hash chain in PostgreSQL (migrations 006 and 008): the database and
events/chain.py hash alike, group commits of many concurrent appends chain
correctly, migration 006 chains a log written before it, and 008 (the
documents kept as their appender wrote them) leaves every hash valid."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.catalogue import Attachment, Channel, Client, ConversationStarted, Priority, Status
from events.chain import GENESIS, Head, content_digest, event_hash
from events.envelope import Metadata, NewEvent
from events.integrity import chain_head, verify
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from tests.conftest import MakeDatabase
from tests.factories import INSERT_OLD_ROW, message
from tests.unit.test_chain import AT, CONTENT, GOLDEN_CONTENT, GOLDEN_HASH

MIGRATION_006 = "events/006_hash_chain"
MIGRATION_008 = "events/008_verbatim_json"
UNDO_008_AND_006 = f"""
ALTER TABLE events
    DROP COLUMN hash,
    ALTER COLUMN data TYPE jsonb USING data::jsonb,
    ALTER COLUMN metadata TYPE jsonb USING metadata::jsonb,
    ALTER COLUMN metadata SET DEFAULT '{{}}';
DROP FUNCTION parley_append(text[], integer[], integer[], uuid[], text[], smallint[],
                            json[], json[], boolean);
DROP FUNCTION parley_event_hash(bytea, bigint, integer, timestamptz, bytea);
DROP FUNCTION parley_event_content(text, uuid, text, smallint, json, json);
DELETE FROM schema_migrations WHERE name IN ('{MIGRATION_006}', '{MIGRATION_008}');
"""
"""Migrations 008 and 006 taken away again: the log and parley_append as before them."""

UNICODE = 'Ünïcödé ☃ 🦜 漢字 עברית e\u0301 "quoted" back\\slash\nnew line\ttab \x01'


def _migration(stem: str) -> str:
    return (EVENT_STORE_MIGRATIONS / f"{stem}.sql").read_text()


async def _undo_008_and_006(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(UNDO_008_AND_006)
        # parley_append as migrations 003 and 004 made it.
        await conn.execute(_migration("003_append_function"))
        await conn.execute(_migration("004_append_by_index"))
    await pool.expire_connections()  # no statement prepared for the old types


async def _apply_006_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_migration("006_hash_chain"))
        await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", MIGRATION_006)
    await pool.expire_connections()


def _python_chain(rows: list[asyncpg.Record]) -> list[bytes]:
    """The chain as events/chain.py computes it from the rows."""
    hashes, previous = [], GENESIS
    for row in rows:
        previous = event_hash(
            previous,
            global_position=row["global_position"],
            stream_position=row["stream_position"],
            recorded_at=row["recorded_at"],
            content=_content(row),
        )
        hashes.append(previous)
    return hashes


def _content(row: asyncpg.Record) -> bytes:
    fields = ("stream_id", "event_id", "type", "schema_version", "data", "metadata")
    return content_digest(**{field: row[field] for field in fields})


@pytest.fixture
async def pool(make_database: MakeDatabase) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(await make_database(), min_size=1, max_size=4)
    yield pool
    await pool.close()


_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_JSON, stream=_TEXT)
async def test_any_document_is_digested_as_sent_by_the_database_and_python_alike(
    pool: asyncpg.Pool, value: object, stream: str
) -> None:
    sent, event_id = msgspec.json.encode(value), uuid.uuid4()
    async with pool.acquire() as conn:
        digest = await conn.fetchval(
            "SELECT parley_event_content($1, $2, 'T', 3::smallint, $3::json, '{}')",
            stream,
            event_id,
            sent,
        )
    assert digest == content_digest(
        stream_id=stream, event_id=event_id, type="T", schema_version=3, data=sent, metadata=b"{}"
    )


async def test_the_database_and_python_hash_alike(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    cid = uuid.uuid4()
    stream = f"conversation-{cid}"
    started = ConversationStarted(
        conversation_id=cid,
        client=Client(id="c-ü", name=UNICODE),  # nested
        channel=Channel.EMAIL,
        priority=Priority.HIGH,
        status=Status.ACTIVE,
        summary="",
    )
    photo = Attachment(url="https://files.example/ph%C3%B6to.jpg?a=1&b=2", name="phötö.jpg")
    with_photo = message(cid, seq=2, content=UNICODE)
    with_photo = NewEvent(
        event_id=with_photo.event_id,
        data=msgspec.structs.replace(with_photo.data, attachment=photo),
        metadata=Metadata(actor_id="ägent", actor_role="admin", correlation_id=uuid.uuid4()),
    )
    try:
        await store.append(stream, [NewEvent(event_id=uuid.uuid4(), data=started)], 0)  # {}
        await store.append(stream, [message(cid, seq=1, content=UNICODE), with_photo], 1)
        # A hand-written row, its JSON kept as written (odd spacing, unsorted
        # and duplicate keys, escapes), and chained as kept.
        odd = '{"b": 1e3, "a": "\\u00e9\\n", "a": 2, "n": {"z": [1, 2.50, {"y": null}], "": -0.0}}'
        await pool.execute(INSERT_OLD_ROW, 4, stream, 4, uuid.uuid4(), "Odd", 1, odd)
        await store.append(stream, [message(cid, seq=3, content="after the odd row")], 4)
    finally:
        await store.close()

    rows = await pool.fetch("SELECT * FROM events ORDER BY global_position")
    assert [r["global_position"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["metadata"] == b"{}"
    assert rows[3]["data"].decode() == odd
    assert rows[2]["data"] == msgspec.json.encode(with_photo.data)  # as the store sent it
    assert [r["hash"] for r in rows] == _python_chain(rows)
    digests = await pool.fetch(
        "SELECT parley_event_content(stream_id, event_id, type, schema_version, data, metadata)"
        " AS content FROM events ORDER BY global_position"
    )
    assert [d["content"] for d in digests] == [_content(r) for r in rows]
    # And on the unit test's golden inputs, the functions give the golden values.
    golden = await pool.fetchrow(
        "SELECT c AS content, parley_event_hash($1, 1, 1, $2, c) AS hash"
        " FROM parley_event_content($3, $4, $5, $6, $7::text::json, $8::text::json) AS c",
        GENESIS,
        AT,
        *CONTENT.values(),
    )
    assert (golden["content"].hex(), golden["hash"].hex()) == (GOLDEN_CONTENT, GOLDEN_HASH)
    assert await chain_head(pool) == Head(5, rows[-1]["hash"])
    assert (await verify(pool)).problems[0].where == "position 4"  # "Odd" is no event type
    assert [p.check for p in (await verify(pool)).problems] == ["payloads"]


async def test_group_commits_of_many_concurrent_appends_make_one_valid_chain(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    # Two stores on pools of their own: two processes, each with its group
    # commit, taking turns at the append lock.
    pools = [await create_pool(url, min_size=1, max_size=3) for _ in range(2)]
    events_per_commit: list[int] = []
    stores = [
        PostgresEventStore(p, on_commit=lambda _s, n: events_per_commit.append(n)) for p in pools
    ]
    shared = f"conversation-{uuid.uuid4()}"

    async def conversation(store: PostgresEventStore, k: int) -> int:
        cid = uuid.uuid4()
        stream, version = f"conversation-{cid}", 0
        for turn in range(12):
            size = 1 if (k + turn) % 3 else 5
            batch = [message(cid, seq=version + i + 1) for i in range(size)]
            await store.append(stream, batch, version)
            version += size
            await store.append(shared, [message(seq=1)], None)  # any version
        return version + 12

    try:
        written = await asyncio.gather(*(conversation(stores[k % 2], k) for k in range(32)))
    finally:
        for store in stores:
            await store.close()

    report = await verify(pools[0])
    assert report.ok, report.problems
    assert report.events == report.head == sum(written)
    assert max(events_per_commit) > 5  # group commits of several appends happened
    rows = await pools[0].fetch("SELECT * FROM events ORDER BY global_position")
    assert [r["hash"] for r in rows] == _python_chain(rows)
    for p in pools:
        await p.close()


async def test_the_migrations_chain_a_log_written_before_them_and_keep_its_hashes(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    pool = await create_pool(url, min_size=1, max_size=4)
    cid = uuid.uuid4()
    stream = f"conversation-{cid}"

    async def write(first: int, count: int) -> None:
        store = PostgresEventStore(pool)
        try:
            for seq in range(first, first + count):
                await store.append(stream, [message(cid, seq=seq, content=UNICODE)], seq - 1)
        finally:
            await store.close()

    try:
        await write(1, 20)
        await _undo_008_and_006(pool)
        await write(21, 20)  # no chain, jsonb: as Parley wrote before migration 006

        await _apply_006_only(pool)
        assert (await verify(pool)).ok  # the back-fill, positions 1..40
        comment = (
            "SELECT col_description(attrelid, attnum) FROM pg_attribute"
            " WHERE attrelid = 'events'::regclass AND attname = 'hash'"
        )
        assert "Positions 1..40 were back-filled by the migration at" in await pool.fetchval(
            comment
        )
        await write(41, 10)  # chained on append, over jsonb's text
        before = await pool.fetch("SELECT * FROM events ORDER BY global_position")

        async with pool.acquire() as conn:
            assert await apply_migrations(conn, MIGRATION_FOLDERS) == [MIGRATION_008]
        await pool.expire_connections()

        # Migration 008 kept each row's text (jsonb's), so every hash, whether
        # back-filled or made on append, still verifies, unchanged.
        rows = await pool.fetch("SELECT * FROM events ORDER BY global_position")
        assert [(r["data"], r["metadata"], r["hash"]) for r in rows] == [
            (r["data"], r["metadata"], r["hash"]) for r in before
        ]
        assert [r["hash"] for r in rows] == _python_chain(rows)
        assert (await verify(pool)).ok
        # The append-only guard is as it was: enabled, refusing.
        triggers = (
            "SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = 'events'::regclass"
        )
        assert {r["tgname"]: r["tgenabled"] for r in await pool.fetch(triggers)} == {
            "events_append_only": "O",
            "events_no_truncate": "O",
            "events_notify": "O",
        }
        with pytest.raises(asyncpg.RestrictViolationError):
            await pool.execute("UPDATE events SET type = type WHERE global_position = 1")
        # Appends carry on from the head, storing the text they send.
        await write(51, 5)
        report = await verify(pool)
        assert report.ok and report.head == 55, report.problems
        last = await pool.fetchval("SELECT data FROM events WHERE global_position = 55")
        assert b'"seq":55' in last and b'"seq": ' not in last
    finally:
        await pool.close()
