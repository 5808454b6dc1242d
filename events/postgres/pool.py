"""PostgreSQL connections as the event store expects them: a pool whose
connections carry jsonb as raw bytes and give up connecting in time, and
``bounded_connection`` for statements that must answer within a bound."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.postgres.group_commit import CONNECTION_ERRORS, RETRY_AFTER
from events.store import StoreUnavailable

CONNECT_TIMEOUT = 3.0


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: jsonb travels as raw JSON bytes (msgspec does the
    (de)serialising), skipping asyncpg's str round trip."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="binary",
        encoder=lambda data: b"\x01" + data,
        decoder=lambda data: data[1:],
    )


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, command_timeout: float | None = None
) -> asyncpg.Pool:
    """A connection pool set up the way the store expects. A new connection
    gives up after ``CONNECT_TIMEOUT`` (asyncpg's default is a minute); a
    statement without a timeout of its own after ``command_timeout`` (None:
    never, for the CLI's long jobs)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        timeout=CONNECT_TIMEOUT,
        command_timeout=command_timeout,
    )
    assert pool is not None
    return pool


async def release(pool: asyncpg.Pool, conn: PoolConnectionProxy) -> None:
    """Give ``conn`` back within a second, or not at all. (``asyncio.timeout``,
    not ``wait_for``: on Python 3.11 ``wait_for`` loses a cancellation landing
    in the turn the release completes, and a Ctrl-C with it.)"""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await pool.release(conn)


@contextlib.asynccontextmanager
async def bounded_connection(
    pool: asyncpg.Pool, timeout: float, *, keep: bool = False
) -> AsyncIterator[tuple[PoolConnectionProxy, Callable[[], float]]]:
    """A pool connection, and ``left()``: the seconds left of ``timeout`` for
    the statements run on it (pass it as their ``timeout``). A lost, refused
    or timed-out connection raises :class:`StoreUnavailable`, and is closed
    rather than given back: asyncpg would first wait for the cancelled
    statement to be cancelled on the server, which a frozen server never
    confirms (a plain ``asyncio.timeout`` around ``pool.fetch`` is not enough).
    So is a connection whose user was cancelled while on it.
    ``keep``: the caller keeps the connection (it is released only on failure).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def left() -> float:
        return max(0.001, deadline - loop.time())

    try:
        conn = await pool.acquire(timeout=timeout)
    except CONNECTION_ERRORS as error:
        raise StoreUnavailable(
            f"PostgreSQL cannot be reached ({error!r})", retry_after=RETRY_AFTER
        ) from error
    failed = True
    try:
        yield conn, left
        failed = False
    except CONNECTION_ERRORS as error:
        with contextlib.suppress(Exception):
            conn.terminate()
        raise StoreUnavailable(
            f"PostgreSQL cannot be reached ({error!r})", retry_after=RETRY_AFTER
        ) from error
    except asyncio.CancelledError:
        # Cancelled mid-statement (a command's deadline): give up on the
        # connection at once, as above, rather than wait for its reset.
        with contextlib.suppress(Exception):
            conn.terminate()
        raise
    finally:
        if failed or not keep:
            await release(pool, conn)
