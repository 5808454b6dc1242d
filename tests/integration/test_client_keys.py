"""Per-client data keys on PostgreSQL (events.postgres.keys): personal data
is sealed at rest, opened on read by any process holding the master key,
and unreadable everywhere once the client's key is destroyed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from events.catalogue import Channel, Client, ClientErased, ConversationStarted, Priority, Status
from events.envelope import Metadata, NewEvent, RecordedEvent
from events.integrity import verify
from events.jetstream.ack_window import sealed_only
from events.postgres.keys import ClientKeys
from events.postgres.master_keys import MasterKey
from events.postgres.store import PostgresEventStore, create_pool
from events.sealing import ERASED
from parley.errors import StartupError
from parley.master_key import check_master_key
from tests.conftest import MakeDatabase
from tests.factories import message

MASTER = MasterKey(bytes(range(32)))
SECRET = "Marker-5c1e"


_STORES: list[PostgresEventStore] = []


@pytest.fixture
async def pool(make_database: MakeDatabase) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(await make_database(), min_size=1, max_size=8)
    yield pool
    while _STORES:
        await _STORES.pop().close()
    await pool.close()


def keyed_store(pool: asyncpg.Pool, keys: ClientKeys | None = None) -> PostgresEventStore:
    """A store as another process would have it: its own cold key cache."""
    store = PostgresEventStore(pool, keys=keys or ClientKeys(pool, MASTER))
    _STORES.append(store)
    return store


def start(client_id: str, name: str) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        data=ConversationStarted(
            conversation_id=uuid.uuid4(),
            client=Client(id=client_id, name=name),
            channel=Channel.WEB,
            priority=Priority.LOW,
            status=Status.ACTIVE,
        ),
    )


def said(client_id: str, text: str, conversation_id: uuid.UUID) -> NewEvent:
    return msgspec.structs.replace(message(conversation_id, content=text), subject=client_id)


async def chat(store: PostgresEventStore, client_id: str, text: str) -> str:
    """A conversation of ``client_id`` whose name and message say ``text``."""
    started = start(client_id, f"{text} name")
    assert isinstance(started.data, ConversationStarted)
    stream = f"conversation-{started.data.conversation_id}"
    await store.append(stream, [started, said(client_id, text, started.data.conversation_id)], 0)
    return stream


async def erase(pool: asyncpg.Pool, keys: ClientKeys, client_id: str) -> list[uuid.UUID]:
    async with pool.acquire() as conn, conn.transaction():
        return await keys.erase(conn, client_id)


def texts(events: list[RecordedEvent]) -> str:
    return msgspec.json.encode([e.data for e in events]).decode()


async def test_personal_data_is_sealed_at_rest_and_any_process_opens_it(
    pool: asyncpg.Pool,
) -> None:
    stream = await chat(keyed_store(pool), "c-1", SECRET)
    stored = await pool.fetch("SELECT data::text FROM events")
    assert stored and not any(SECRET in row[0] for row in stored)
    for reader in (keyed_store(pool), keyed_store(pool)):
        assert texts(await reader.read_stream(stream)).count(SECRET) == 2
    assert await pool.fetchval("SELECT count(*) FROM data_keys WHERE client_id = 'c-1'") == 1


async def test_once_the_key_is_destroyed_every_reader_reads_erased(pool: asyncpg.Pool) -> None:
    writer = keyed_store(pool)
    other_reader = keyed_store(pool)
    mine, theirs = await chat(writer, "c-1", SECRET), await chat(writer, "c-2", "Other-9")
    assert SECRET in texts(await other_reader.read_stream(mine))  # its cache holds the key now
    assert SECRET in texts(await other_reader.read_all())  # a page of the whole log too
    keys = ClientKeys(pool, MASTER)
    assert len(await erase(pool, keys, "c-1")) == 1
    for reader in (writer, other_reader, keyed_store(pool)):
        erased = texts(await reader.read_stream(mine))
        assert SECRET not in erased and erased.count(ERASED) == 2
        assert texts(await reader.read_stream(theirs)).count("Other-9") == 2
        whole_log = texts(await reader.read_all())
        assert SECRET not in whole_log and whole_log.count("Other-9") == 2
    assert await erase(pool, keys, "c-1") == []  # nothing left to destroy
    assert (await verify(pool)).ok


async def test_the_log_read_as_stored_opens_nothing(pool: asyncpg.Pool) -> None:
    """What the relay reads and publishes: the personal fields only in the
    sealed parts, read without a key, as ``sealed_only`` makes of opened ones."""
    store = keyed_store(pool)
    await chat(store, "c-1", SECRET)
    shut = await keyed_store(pool).read_all_sealed()
    assert shut and SECRET not in texts(shut)
    assert shut == [sealed_only(e) for e in await store.read_all()]


async def test_a_page_opens_only_the_events_its_reader_needs(pool: asyncpg.Pool) -> None:
    """A rebuild opens only what its projection reads; the rest of the page
    is read as stored, and a destroyed key still opens nothing."""
    store = keyed_store(pool)
    await chat(store, "c-1", SECRET)
    await chat(store, "c-2", "Other-9")
    opened, shut = await store.read_all(), await store.read_all_sealed()
    messages = [e for e in shut if e.type == "MessageSent"]
    page = await keyed_store(pool).read_all(needed=lambda page: messages)
    assert [e.global_position for e in page] == [e.global_position for e in opened]
    assert [e.data for e in page] == [
        o.data if o.type == "MessageSent" else s.data for o, s in zip(opened, shut, strict=True)
    ]
    assert [e.sealed for e in page] == [e.sealed for e in opened]
    assert texts(page).count(SECRET) == 1 and texts(page).count("Other-9") == 1
    assert texts(await store.read_all(needed=lambda page: [])) == texts(shut)
    await erase(pool, ClientKeys(pool, MASTER), "c-1")
    page = await store.read_all(needed=lambda page: page)
    assert SECRET not in texts(page) and texts(page).count("Other-9") == 2


async def test_a_client_who_comes_back_after_an_erasure_gets_a_new_key(
    pool: asyncpg.Pool,
) -> None:
    keys = ClientKeys(pool, MASTER)
    store = keyed_store(pool, keys)
    before = await chat(store, "c-1", SECRET)
    await erase(pool, keys, "c-1")
    after = await chat(store, "c-1", "Back-again")
    assert SECRET not in texts(await keyed_store(pool).read_stream(before))
    assert texts(await keyed_store(pool).read_stream(after)).count("Back-again") == 2
    live = "SELECT count(*) FROM data_keys WHERE client_id = 'c-1' AND erased_at IS NULL"
    assert await pool.fetchval(live) == 1


async def test_a_jetstream_reader_forgets_the_key_where_the_log_says_it_was_erased(
    pool: asyncpg.Pool,
) -> None:
    """Events reach projections as the relay publishes them (personal data
    only sealed); a reader with the key cached opens what came before the
    ClientErased event, never what came after, though its cache had the key."""
    keys = ClientKeys(pool, MASTER)
    store = keyed_store(pool, keys)
    stream = await chat(store, "c-1", SECRET)
    late_writer = keyed_store(pool)  # it seals with the key it cached before the erasure
    await late_writer.append(stream, [said("c-1", "Late-1", uuid.uuid4())], 2)
    reader = ClientKeys(pool, MASTER)
    wire = [sealed_only(e) for e in await store.read_stream(stream)]
    assert SECRET not in texts(wire)
    assert texts(await reader.open(wire)).count(SECRET) == 2  # now cached
    key_ids = await erase(pool, keys, "c-1")
    erased = RecordedEvent(
        global_position=wire[-1].global_position + 1,
        stream_id="client-c-1",
        stream_position=1,
        event_id=uuid.uuid4(),
        type="ClientErased",
        data=ClientErased(client_id="c-1", key_ids=tuple(key_ids), conversation_ids=(), by="x"),
        metadata=Metadata(),
        recorded_at=wire[-1].recorded_at,
    )
    opened = await reader.open([wire[0], erased, *wire[1:]])
    assert SECRET in texts(opened[:1])
    assert SECRET not in texts(opened[1:]) and "Late-1" not in texts(opened)


async def test_another_master_key_is_refused_at_start(pool: asyncpg.Pool) -> None:
    await check_master_key(pool, MASTER)
    await check_master_key(pool, MasterKey(bytes(range(32))))  # the same key again
    with pytest.raises(StartupError, match="PARLEY_MASTER_KEY"):
        await check_master_key(pool, MasterKey(bytes(32)))
