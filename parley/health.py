"""Operational endpoints: is the process alive, and can it do its job.

``/health/live`` answers 200 as long as the process serves HTTP (restart it
when it does not). ``/health/ready`` answers 200 only when PostgreSQL commits
a transaction (so a server in recovery, read-only after a fail-over, or
unreachable fails it), the NATS connection is up and answers a PING, and no
consumer of the log (the relay, each projection) is stuck — behind the head
with no progress for ``PARLEY_STALL_SECONDS`` — else 503 with the failing
check named. Every check is bounded (``CHECK_TIMEOUT``), and nothing is
cached: the first probe after a recovery is green.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import asyncpg
import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from nats.aio.client import Client as NATS

from events.postgres.pool import bounded_connection
from events.postgres.replica import ReadPools
from parley.services import describe
from parley.settings import Settings
from parley.status import CONSUMERS, read_status, stalled

CHECK_TIMEOUT = 2.0


class Liveness(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok"] = "ok"


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]
    """One entry per dependency: ``"ok"`` or what is wrong with it."""


async def check_postgres(pool: asyncpg.Pool, timeout: float = CHECK_TIMEOUT) -> str:
    """ "ok" when a transaction that takes a transaction id commits: what an
    append needs (``SELECT 1`` also answers on a read-only standby)."""
    try:
        async with bounded_connection(pool, timeout) as (conn, left):
            await conn.fetchval("SELECT pg_current_xact_id()", timeout=left())
    except Exception as error:
        return describe(error, timeout)
    return "ok"


async def check_nats(nats: NATS, timeout: float = CHECK_TIMEOUT) -> str:
    if not nats.is_connected:
        return "not connected"
    try:
        # A JetStream API request (what the relay and projections need), not
        # ``flush``: nats-py's read loop fails on the PONG of a flush that
        # timed out, which would make this probe break the connection it checks.
        await nats.jetstream(timeout=timeout).account_info()
    except Exception as error:
        return describe(error, timeout) if str(error) else "no answer from JetStream"
    return "ok"


async def check_workers(pool: asyncpg.Pool, stall_seconds: float) -> dict[str, str]:
    """One check per consumer of the log (the relay, each projection): "ok",
    or that it is behind and has not moved for ``stall_seconds``."""
    async with bounded_connection(pool, CHECK_TIMEOUT) as (conn, left):
        async with asyncio.timeout(left()):  # on a timeout the connection is closed
            head, consumers = await read_status(conn)
            now = await conn.fetchval("SELECT clock_timestamp()")
    problems = stalled(head, consumers, now, stall_seconds)
    return {name: problems.get(name, "ok") for name in CONSUMERS}


class HealthController(Controller):
    path = "/health"
    tags = ("operations",)

    @get("/live", summary="Liveness: the process serves HTTP", sync_to_thread=False)
    def live(self) -> Liveness:
        return Liveness()

    @get("/ready", summary="Readiness: PostgreSQL and NATS answer, no worker is stuck")
    async def ready(
        self,
        pool: NamedDependency[asyncpg.Pool],
        nats: NamedDependency[NATS],
        settings: NamedDependency[Settings],
        reads: NamedDependency[ReadPools],
    ) -> Response[Readiness]:
        postgres, nats_status = await asyncio.gather(check_postgres(pool), check_nats(nats))
        checks = {"postgres": postgres, "nats": nats_status}
        if postgres == "ok":
            try:
                checks |= await check_workers(pool, settings.stall_seconds)
            except Exception as error:  # PostgreSQL went away meanwhile
                checks["postgres"] = describe(error, CHECK_TIMEOUT)
        healthy = all(status == "ok" for status in checks.values())
        if reads.replica_url is not None:  # the read replica: needed only without a fallback
            status = reads.status
            checks["replica"] = "ok" if status.up else f"not answering: {status.problem}"
            healthy = healthy and (status.up or reads.fallback)
        return Response(
            Readiness(status="ok" if healthy else "unavailable", checks=checks),
            status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE,
        )
