"""Rotating the master key (events.postgres.master_keys): every live data key
re-wrapped at once, nothing sealed rewritten, and a process left running with
the old key unable to make a key no restarted process could unwrap."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.integrity import verify
from events.postgres.keys import ClientKeys
from events.postgres.master_keys import (
    MasterKey,
    MasterKeyChanged,
    RotationRefused,
    rotate_master_key,
)
from events.randomness import RandomBytes
from events.sealing import ERASED
from parley.errors import StartupError
from parley.master_key import check_master_key
from tests.integration.test_client_keys import SECRET, chat, erase, keyed_store, texts
from tests.integration.test_client_keys import pool as pool

OLD, NEW = MasterKey(bytes(range(32))), MasterKey(bytes(range(1, 33)))


async def rotate(pool: asyncpg.Pool, old: MasterKey = OLD, new: MasterKey = NEW) -> int:
    async with pool.acquire() as conn:
        return await rotate_master_key(conn, old, new, RandomBytes(os.urandom))


async def wrapped_keys(pool: asyncpg.Pool) -> dict[str, bytes | None]:
    rows = await pool.fetch("SELECT client_id, wrapped FROM data_keys")
    return {row["client_id"]: row["wrapped"] for row in rows}


@pytest.fixture
async def recorded(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A database whose processes started with OLD (its fingerprint recorded)."""
    await check_master_key(pool, OLD)
    yield pool


async def test_every_live_key_is_rewrapped_and_everything_still_opens(
    recorded: asyncpg.Pool,
) -> None:
    pool = recorded
    writer = keyed_store(pool, ClientKeys(pool, OLD))
    streams = [await chat(writer, f"c-{n}", f"{SECRET}-{n}") for n in (1, 2, 3)]
    await erase(pool, ClientKeys(pool, OLD), "c-3")
    before, stored = await wrapped_keys(pool), await pool.fetch("SELECT data FROM events")

    assert await rotate(pool) == 2
    after = await wrapped_keys(pool)
    assert after["c-3"] is None and before["c-3"] is None  # destroyed stays destroyed
    assert all(after[c] != before[c] for c in ("c-1", "c-2"))
    assert await pool.fetch("SELECT data FROM events") == stored  # nothing sealed rewritten
    assert (await verify(pool)).ok

    restarted = keyed_store(pool, ClientKeys(pool, NEW))
    for n, stream in zip((1, 2), streams, strict=False):
        assert texts(await restarted.read_stream(stream)).count(f"{SECRET}-{n}") == 2
    erased = texts(await restarted.read_stream(streams[2]))
    assert f"{SECRET}-3" not in erased and erased.count(ERASED) == 2
    await check_master_key(pool, NEW)
    with pytest.raises(StartupError, match="not the master key"):
        await check_master_key(pool, OLD)


async def test_a_process_left_on_the_old_key_keeps_its_keys_but_cannot_make_one(
    recorded: asyncpg.Pool,
) -> None:
    pool = recorded
    stale = keyed_store(pool, ClientKeys(pool, OLD))
    stream = await chat(stale, "c-1", SECRET)  # c-1's key is in its cache
    await rotate(pool)
    other = await chat(keyed_store(pool, ClientKeys(pool, NEW)), "c-2", "Other-9")
    await chat(stale, "c-1", "Still-here")  # sealed with the cached (unchanged) data key
    keys, events = await wrapped_keys(pool), await pool.fetchval("SELECT count(*) FROM events")
    with pytest.raises(MasterKeyChanged, match="restart this process"):
        await chat(stale, "c-new", "Never-stored")  # no key can be made
    with pytest.raises(MasterKeyChanged):
        await chat(stale, "c-2", "Never-stored")  # nor a re-wrapped one unwrapped
    with pytest.raises(MasterKeyChanged):
        await stale.read_stream(other)
    assert await wrapped_keys(pool) == keys
    assert await pool.fetchval("SELECT count(*) FROM events") == events
    restarted = keyed_store(pool, ClientKeys(pool, NEW))
    assert SECRET in texts(await restarted.read_stream(stream))
    assert "Still-here" in texts(await restarted.read_all())
    await chat(restarted, "c-new", "Stored-now")  # the restarted process makes keys again
    assert "Stored-now" in texts(await keyed_store(pool, ClientKeys(pool, NEW)).read_all())


async def test_a_key_made_while_a_rotation_commits_waits_and_is_refused(
    recorded: asyncpg.Pool,
) -> None:
    """The rotation holds the fingerprint's row; key creation waits for its
    commit, then finds the fingerprint changed and makes nothing."""
    pool = recorded
    async with pool.acquire() as rotation:
        transaction = rotation.transaction()
        await transaction.start()
        await rotation.execute("SELECT fingerprint FROM master_key FOR UPDATE")
        await rotation.execute("UPDATE master_key SET fingerprint = $1", NEW.fingerprint)
        making = asyncio.ensure_future(chat(keyed_store(pool, ClientKeys(pool, OLD)), "c-9", "x"))
        waiting = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        while not await pool.fetchval(waiting):  # the key's creation is blocked on the row
            assert not making.done(), making
            await asyncio.sleep(0.01)
        await transaction.commit()
        with pytest.raises(MasterKeyChanged):
            await making
    assert await wrapped_keys(pool) == {}


async def test_a_rotation_from_another_key_or_to_the_same_is_refused(
    recorded: asyncpg.Pool,
) -> None:
    pool = recorded
    await chat(keyed_store(pool, ClientKeys(pool, OLD)), "c-1", SECRET)
    keys = await wrapped_keys(pool)
    with pytest.raises(RotationRefused, match="is the current one"):
        await rotate(pool, OLD, OLD)
    with pytest.raises(RotationRefused, match="not the master key"):
        await rotate(pool, NEW, MasterKey(bytes(32)))
    assert await wrapped_keys(pool) == keys
    await check_master_key(pool, OLD)  # still the recorded one
