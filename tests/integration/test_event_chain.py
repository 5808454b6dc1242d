"""The hash chain in PostgreSQL (migration 006): the database and
events/chain.py hash alike, group commits of many concurrent appends chain
correctly, and the migration chains a log written before it."""

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
from events.chain import GENESIS, Head, content_digest, event_hash, jsonb_text
from events.envelope import Metadata, NewEvent
from events.integrity import chain_head, verify
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore, create_pool
from parley.services import MIGRATION_FOLDERS
from tests.conftest import MakeDatabase
from tests.factories import INSERT_OLD_ROW, message
from tests.unit.test_chain import AT, CONTENT, GOLDEN_CONTENT, GOLDEN_HASH

MIGRATION_006 = "events/006_hash_chain"
UNDO_006 = f"""
ALTER TABLE events DROP COLUMN hash;
DROP FUNCTION parley_append(text[], integer[], integer[], uuid[], text[], smallint[],
                            jsonb[], jsonb[], boolean);
DROP FUNCTION parley_event_hash(bytea, bigint, integer, timestamptz, bytea);
DROP FUNCTION parley_event_content(text, uuid, text, smallint, jsonb, jsonb);
DELETE FROM schema_migrations WHERE name = '{MIGRATION_006}';
"""
"""Migration 006 taken away again: the log and parley_append as before it."""

UNICODE = 'Ünïcödé ☃ 🦜 漢字 עברית e\u0301 "quoted" back\\slash\nnew line\ttab \x01'


def _migration(stem: str) -> str:
    return (EVENT_STORE_MIGRATIONS / f"{stem}.sql").read_text()


async def _undo_006(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(UNDO_006)
        # parley_append as migrations 003 and 004 made it.
        await conn.execute(_migration("003_append_function"))
        await conn.execute(_migration("004_append_by_index"))
    finally:
        await conn.close()


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
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_JSON)
async def test_jsonb_text_prints_a_value_as_postgresql_prints_it_as_jsonb(
    pool: asyncpg.Pool, value: object
) -> None:
    async with pool.acquire() as conn:
        printed = await conn.fetchval(
            "SELECT $1::text::jsonb::text", msgspec.json.encode(value).decode()
        )
    assert jsonb_text(value) == printed


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
        # A hand-written row, its JSON as jsonb normalises it: keys sorted, the
        # last of duplicate keys kept, numbers as written (but -0.0 is 0.0),
        # unicode escapes decoded.
        odd = '{"b": 1e3, "a": "\\u00e9\\n", "a": 2, "n": {"z": [1, 2.50, {"y": null}], "": -0.0}}'
        await pool.execute(INSERT_OLD_ROW, 4, stream, 4, uuid.uuid4(), "Odd", 1, odd)
        await store.append(stream, [message(cid, seq=3, content="after the odd row")], 4)
    finally:
        await store.close()

    rows = await pool.fetch("SELECT * FROM events ORDER BY global_position")
    assert [r["global_position"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["metadata"] == b"{}"
    normalised = '{"a": 2, "b": 1000, "n": {"": 0.0, "z": [1, 2.50, {"y": null}]}}'
    assert rows[3]["data"].decode() == normalised
    assert [r["hash"] for r in rows] == _python_chain(rows)
    digests = await pool.fetch(
        "SELECT parley_event_content(stream_id, event_id, type, schema_version, data, metadata)"
        " AS content FROM events ORDER BY global_position"
    )
    assert [d["content"] for d in digests] == [_content(r) for r in rows]
    # And on the unit test's golden inputs, the functions give the golden values.
    golden = await pool.fetchrow(
        "SELECT c AS content, parley_event_hash($1, 1, 1, $2, c) AS hash"
        " FROM parley_event_content($3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb) AS c",
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


async def test_the_migration_chains_a_log_written_before_it(make_database: MakeDatabase) -> None:
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
        await write(1, 20)  # chained on append
        appended = [r["hash"] for r in await pool.fetch(HASHES)]
        await _undo_006(url)
        await write(21, 20)  # no chain: as Parley wrote before migration 006
        async with pool.acquire() as conn:
            assert await apply_migrations(conn, MIGRATION_FOLDERS) == [MIGRATION_006]

        rows = await pool.fetch("SELECT * FROM events ORDER BY global_position")
        # The back-fill hashes exactly as the appends do: the first 20 rows
        # got back the hashes they had, and the whole log verifies.
        assert [r["hash"] for r in rows[:20]] == appended
        assert [r["hash"] for r in rows] == _python_chain(rows)
        assert (await verify(pool)).ok
        comment = (
            "SELECT col_description(attrelid, attnum) FROM pg_attribute"
            " WHERE attrelid = 'events'::regclass AND attname = 'hash'"
        )
        assert "Positions 1..40 were back-filled by the migration at" in await pool.fetchval(
            comment
        )
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
        # Appends carry on from the back-filled head.
        await write(41, 5)
        report = await verify(pool)
        assert report.ok and report.head == 45, report.problems
    finally:
        await pool.close()


HASHES = "SELECT hash FROM events ORDER BY global_position"
