"""PostgreSQL connections as the event store expects them: a pool whose
connections carry json and jsonb as raw bytes, give up connecting in time and go back
to the pool without a reset round trip (unless marked with
``holds_session_state``), and ``bounded_connection`` for statements that must
answer within a bound."""

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
    """Per-connection setup: json and jsonb travel as raw JSON bytes (msgspec
    does the (de)serialising), skipping asyncpg's str round trip. The log's
    documents are json (migration 008); jsonb remains for read models and
    for a log not yet migrated."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="binary",
        encoder=lambda data: b"\x01" + data,
        decoder=lambda data: data[1:],
    )
    await conn.set_type_codec(
        "json",
        schema="pg_catalog",
        format="binary",
        encoder=lambda data: data,
        decoder=lambda data: data,
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
        reset=_reset,
    )
    assert pool is not None
    return pool


_HOLDING_STATE: set[int] = set()  # server process ids of connections marked below


def holds_session_state(conn: PoolConnectionProxy | asyncpg.Connection) -> None:
    """Mark a pooled connection that keeps state in its session (a session
    advisory lock, a LISTEN): asyncpg's full reset runs when it goes back."""
    _HOLDING_STATE.add(conn.get_server_pid())


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection given back to the pool gets, after asyncpg rolled
    back any open transaction. asyncpg's own reset (unlock every advisory
    lock, UNLISTEN *, RESET ALL, CLOSE ALL) is a round trip per release:
    ~50 µs of CPU and ~100 µs of waiting per statement, measured. Parley's
    statements keep no state in the session (``SET LOCAL``,
    ``pg_advisory_xact_lock``), so only the connections marked by
    :func:`holds_session_state` pay it. (A process id is unique per server
    only: a connection to another server with the same id gets one reset too
    many, which is harmless.)"""
    pid = conn.get_server_pid()
    if pid in _HOLDING_STATE:
        _HOLDING_STATE.discard(pid)
        await conn.execute(conn.get_reset_query())


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
