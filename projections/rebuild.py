"""Rebuild a projection from the whole log, while the read API keeps answering.

1. Create shadow copies of the projection's tables in a schema of their own
   (``rebuild_<name>``) and replay the log into them (the projection's SQL
   names tables unqualified; the shadow schema goes first on the search path).
2. Rewrite the shadow tables that hold few rows but much dead space (a
   counter row updated once per conversation replayed, e.g. the inbox's
   ``inbox_counts``: 216 rows in 108 MB after a rebuild of 1M conversations,
   which every scan of it then read; ``VACUUM`` alone cannot shrink it).
3. Lock the projection's checkpoint row — the live runner waits at its next
   batch — replay what arrived meanwhile, swap the shadow tables in and set the
   checkpoint, all in one transaction. Readers see the old tables until the
   commit and the new ones after it; nothing is ever half-built.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import Callable, Iterator

import asyncpg

from events.postgres import checkpoints
from events.postgres.checkpoints import Connection
from events.store import EventStore
from events.tasks import cancel_and_wait
from projections.base import Projection, apply_events, needed_by

Progress = Callable[[int, int], None]
"""Called with (position replayed, head of the log)."""


def _shadow(projection: Projection) -> str:
    return f"rebuild_{projection.name}"


async def rebuild(
    pool: asyncpg.Pool,
    store: EventStore,
    projection: Projection,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    compact_from: int = 1 << 20,
) -> int:
    """Rebuild ``projection``; returns the position its tables are at.
    ``compact_from``: the size in bytes from which a shadow table of at most
    ``FEW_ROWS`` rows is rewritten before the swap."""
    schema = _shadow(projection)
    async with pool.acquire() as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"CREATE SCHEMA {schema}")
        for table in projection.tables:
            await conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
            await _copy_triggers(conn, table, schema)
            await _copy_statistics_targets(conn, table, schema)
        try:
            with _collector_paused():
                position = await _replay(conn, store, projection, 0, batch_size, progress)
            for table in projection.tables:
                await _compact(conn, f"{schema}.{table}", compact_from)
            async with conn.transaction():
                live = await checkpoints.load(conn, projection.name, lock=True)
                position = await _replay(conn, store, projection, position, batch_size, progress)
                assert position >= live, "the log is behind a checkpoint"
                for table in projection.tables:
                    await conn.execute(f"DROP TABLE public.{table}")
                    await conn.execute(f"ALTER TABLE {schema}.{table} SET SCHEMA public")
                await checkpoints.save(conn, projection.name, position)
        finally:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return position


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused, restored after.

    A page brings tens of thousands of short-lived objects (rows, events,
    statement arguments) that reference counting frees, yet every few hundred
    of them started a collection that traced the young objects still alive:
    about a fifth of a rebuild's time (docs/BENCHMARKS.md). A replay makes no
    reference cycles (measured: a collection after rebuilding 200,000 events
    found nothing to free), so nothing piles up meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


FEW_ROWS = 10_000
"""A table of at most this many rows is rewritten in milliseconds."""


async def _compact(conn: Connection, table: str, compact_from: int) -> None:
    """Rewrite ``table`` if it holds few rows in many bytes (outside a transaction)."""
    size = await conn.fetchval("SELECT pg_relation_size($1::regclass)", table)
    if size < compact_from:
        return
    rows = await conn.fetchval(f"SELECT count(*) FROM (SELECT FROM {table} LIMIT {FEW_ROWS + 1}) t")
    if rows <= FEW_ROWS:
        await conn.execute(f"VACUUM FULL {table}")


async def _copy_triggers(conn: Connection, table: str, schema: str) -> None:
    """Give the shadow copy of ``table`` the live table's triggers (``LIKE``
    copies none), e.g. the inbox's counters (projections/migrations/011)."""
    definitions = await conn.fetch(
        "SELECT pg_get_triggerdef(oid) AS sql FROM pg_trigger"
        " WHERE tgrelid = $1::regclass AND NOT tgisinternal",
        f"public.{table}",
    )
    live = re.compile(rf" ON (public\.)?{re.escape(table)} ")
    for definition in definitions:
        await conn.execute(live.sub(f" ON {schema}.{table} ", definition["sql"], count=1))


async def _copy_statistics_targets(conn: Connection, table: str, schema: str) -> None:
    """Give the shadow copy of ``table`` the live table's column statistics
    targets (``LIKE`` copies none), e.g. the search's (projections/migrations/012)."""
    targets = await conn.fetch(
        "SELECT attname, attstattarget FROM pg_attribute"
        " WHERE attrelid = $1::regclass AND attnum > 0 AND attstattarget > 0",
        f"public.{table}",
    )
    for column, target in targets:
        await conn.execute(
            f'ALTER TABLE {schema}.{table} ALTER COLUMN "{column}" SET STATISTICS {int(target)}'
        )


async def _replay(
    conn: Connection,
    store: EventStore,
    projection: Projection,
    after: int,
    batch_size: int,
    progress: Progress | None,
) -> int:
    """Apply the log after ``after`` to the shadow tables, batch by batch.
    The next batch is read (and what the projection reads of its sealed
    events opened) while this one is applied: decoding in this process
    overlaps PostgreSQL's writing."""
    head, needed = await store.head_position(), needed_by(projection)
    reading = asyncio.ensure_future(store.read_all(after=after, limit=batch_size, needed=needed))
    try:
        while page := await reading:
            after = page[-1].global_position
            reading = asyncio.ensure_future(
                store.read_all(after=after, limit=batch_size, needed=needed)
            )
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path = {_shadow(projection)}, public")
                await apply_events(conn, projection, page)
            if progress is not None:
                progress(after, max(head, after))
    finally:
        await cancel_and_wait(reading)
    return after
