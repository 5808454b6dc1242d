"""The adapters to the outside world, built inside functions, never at import.

``connect_postgres`` and ``connect_nats`` give up after a few seconds with a
:class:`ServiceError` whose one-line message names the setting, so the CLI can
say exactly what is wrong instead of printing a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from nats.aio.client import Client as NATS

from commands.snapshots import Snapshots
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.pool import create_pool
from events.postgres.snapshots import PostgresSnapshotStore
from parley.errors import StartupError
from projections import READ_MODEL_MIGRATIONS

CONNECT_TIMEOUT = 5.0
QUERY_TIMEOUT = 5.0
"""Seconds a statement of ``parley serve``/``worker`` may take before it is
cancelled: a frozen PostgreSQL never holds a request or a worker for ever."""
SERVER_POOL_SIZE = 10
"""PostgreSQL connections of a process serving HTTP and WebSockets, at most
(the workers need their own: parley.worker.pool_size)."""
MIGRATION_FOLDERS = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]
"""Every package's migrations, in the order they apply."""

log = logging.getLogger("parley.services")


class ServiceError(StartupError):
    """A service named by a setting cannot be reached."""

    def __init__(self, setting: str, url: str, problem: str) -> None:
        self.setting = setting
        self.problem = " ".join(problem.split()) or "unknown error"
        super().__init__(f"{setting}: cannot connect to {redact(url)}: {self.problem}")


def redact(url: str) -> str:
    """The URL with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def describe(error: BaseException, timeout: float = CONNECT_TIMEOUT) -> str:
    """A short, lower-case account of why a connection failed."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


_POSTGRES_CONNECT_ERRORS = (
    OSError,
    TimeoutError,
    ValueError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


@dataclass(frozen=True)
class Services:
    """The adapters the app and the workers share."""

    pool: asyncpg.Pool
    nats: NATS


async def connect_postgres(
    url: str,
    *,
    setting: str = "PARLEY_DATABASE_URL",
    timeout: float = CONNECT_TIMEOUT,
    command_timeout: float | None = None,
    max_size: int = SERVER_POOL_SIZE,
) -> asyncpg.Pool:
    """An asyncpg pool (at most ``max_size`` connections) set up for the
    event store, or :class:`ServiceError`."""
    try:
        async with asyncio.timeout(timeout):
            return await create_pool(url, command_timeout=command_timeout, max_size=max_size)
    except _POSTGRES_CONNECT_ERRORS as error:
        raise ServiceError(setting, url, describe(error, timeout)) from None


async def connect_nats(
    url: str, *, setting: str = "PARLEY_NATS_URL", timeout: float = CONNECT_TIMEOUT
) -> NATS:
    """A connected nats-py client that reconnects for ever once connected, or
    :class:`ServiceError` if the first connection fails or takes too long."""
    client = NATS()
    connected = False
    first_error: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

    async def on_error(error: Exception) -> None:
        if connected:
            log.warning("NATS: %s", describe(error))
        elif not first_error.done():
            first_error.set_result(error)

    async def on_disconnected() -> None:
        if connected and not client.is_closed:
            log.warning("NATS: disconnected, reconnecting")

    async def on_reconnected() -> None:
        log.warning("NATS: reconnected")

    connecting = asyncio.ensure_future(
        client.connect(
            servers=url.split(","),  # one server, or a cluster's: any of them will do
            name="parley",
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            connect_timeout=max(1, int(timeout)),
            max_reconnect_attempts=-1,
        )
    )
    waiting: set[asyncio.Future[Any]] = {connecting, first_error}
    await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if connecting.done() and connecting.exception() is None:
        connected = True  # from now on, errors are logged and nats-py reconnects
        return client

    # Refused, unreachable or too slow: stop trying and say why.
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1):
            await client.close()
    if connecting.done() and not connecting.cancelled() and connecting.exception() is not None:
        error: BaseException | None = connecting.exception()
    else:
        error = first_error.result() if first_error.done() else TimeoutError()
    assert error is not None
    raise ServiceError(setting, url, describe(error, timeout))


def snapshots(pool: asyncpg.Pool, every: int) -> Snapshots | None:
    """The command handler's snapshots, one every ``every`` events
    (``PARLEY_SNAPSHOT_EVERY``; 0: none)."""
    return Snapshots(PostgresSnapshotStore(pool), every=every) if every else None


@contextlib.asynccontextmanager
async def open_services(
    database_url: str, nats_url: str, *, pool_size: int = SERVER_POOL_SIZE
) -> AsyncIterator[Services]:
    """Connect to PostgreSQL (a pool of at most ``pool_size`` connections)
    and NATS; close both on exit."""
    pool = await connect_postgres(database_url, command_timeout=QUERY_TIMEOUT, max_size=pool_size)
    try:
        nats = await connect_nats(nats_url)
        try:
            yield Services(pool=pool, nats=nats)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await nats.close()
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await pool.close()


async def migrate(
    url: str, *, setting: str = "PARLEY_DATABASE_URL", timeout: float = CONNECT_TIMEOUT
) -> list[str]:
    """Apply the pending migrations to the database at ``url``; returns the
    names applied now. Connection failures raise :class:`ServiceError`."""
    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except _POSTGRES_CONNECT_ERRORS as error:
        raise ServiceError(setting, url, describe(error, timeout)) from None
    try:
        return await apply_migrations(conn, MIGRATION_FOLDERS)
    finally:
        await conn.close()
