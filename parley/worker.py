"""The workers: the relay and every projection, run side by side until stopped."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from nats.aio.client import Client as NATS

from events.postgres import PostgresEventStore
from events.relay import JetStreamRelay, Topology
from parley.settings import Settings
from projections.base import Projection
from projections.inbox import InboxProjection
from projections.runner import ProjectionRunner
from projections.timeline import TimelineProjection

log = logging.getLogger("parley.worker")


def projections() -> list[Projection]:
    """Every projection Parley keeps."""
    return [InboxProjection(), TimelineProjection()]


async def run_workers(
    settings: Settings, pool: asyncpg.Pool, nats: NATS, stop: asyncio.Event
) -> None:
    """Relay the log to JetStream and keep every read model up to date until
    ``stop`` is set. A worker that fails is logged and started again."""
    store = PostgresEventStore(pool)
    js = nats.jetstream()
    topology = Topology(prefix=settings.nats_prefix)
    workers: list[JetStreamRelay | ProjectionRunner] = [
        JetStreamRelay(store, pool, nats, topology),
        *(ProjectionRunner(p, pool, store, js, topology) for p in projections()),
    ]
    try:
        await asyncio.gather(*(_supervise(w, stop) for w in workers))
    finally:
        await store.close()


async def _supervise(worker: JetStreamRelay | ProjectionRunner, stop: asyncio.Event) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            await worker.run(stop)
        except Exception:
            log.exception("%s failed; restarting in %.1f s", type(worker).__name__, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                delay = min(delay * 2, 10.0)
