"""The workers: the relay, every projection, the router, the waker, the merge
completer and the image checker, run side by side until stopped."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Protocol

import asyncpg
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError

from commands.handler import CommandHandler
from commands.image_checker import ImageChecker
from commands.merge_completer import MergeCompleter
from commands.merge_service import MergeService
from commands.router import Router
from commands.waker import Waker
from events.jetstream.relay import JetStreamRelay
from events.postgres.group_commit import CONNECTION_ERRORS
from events.postgres.store import PostgresEventStore
from events.postgres.turns import AdvisoryTurns
from events.store import StoreUnavailable
from parley import services
from parley.blobs import open_blob_store
from parley.master_key import client_keys
from parley.settings import Settings
from projections.attachments import AttachmentsProjection
from projections.base import Projection
from projections.catalogues import CataloguesProjection
from projections.inbox import InboxProjection
from projections.merges import MergesProjection
from projections.notifications import NotificationsProjection
from projections.runner import ProjectionRunner
from projections.search import SearchProjection
from projections.staff import StaffProjection
from projections.timeline import TimelineProjection
from projections.timeline_entries import TimelineEntriesProjection

log = logging.getLogger("parley.worker")

_OUTAGES = (*CONNECTION_ERRORS, StoreUnavailable, NatsError)
_LOST_CONNECTION = (*CONNECTION_ERRORS, StoreUnavailable, asyncpg.InternalClientError)
MAX_BACKOFF = 2.0
"""Seconds, at most, between two starts of a failing worker."""
HEALTHY_RUN = 5.0
"""Seconds a worker ran before it failed for the failure to count as a new
fault (its back-off starts again from the shortest)."""


class Worker(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


def projections() -> list[Projection]:
    """Every projection Parley keeps."""
    return [
        InboxProjection(),
        TimelineProjection(),
        StaffProjection(),
        CataloguesProjection(),
        NotificationsProjection(),
        TimelineEntriesProjection(),
        MergesProjection(),
        AttachmentsProjection(),
        SearchProjection(),
    ]


def pool_size() -> int:
    """PostgreSQL connections the workers may hold at once: each projection
    runner keeps one and reads the log on another; the relay and the router
    each keep their leader's and work on one more; the store's listener, the
    waker, the merge completer, the image checker. (Fewer, and the runners
    catching up together at start-up time out waiting for one, the relay
    among them.)"""
    return 2 * len(projections()) + 8


async def run_workers(
    settings: Settings, pool: asyncpg.Pool, nats: NATS, stop: asyncio.Event
) -> None:
    """Relay the log to JetStream, keep every read model up to date, (with
    ``settings.router``) route team conversations and (with ``settings.waker``)
    wake snoozed ones, until ``stop`` is set. A worker that fails is logged and
    started again."""
    keys = client_keys(pool, settings)
    store = PostgresEventStore(pool, keys=keys)
    js = nats.jetstream()
    topology = settings.topology
    workers: list[Worker] = [
        JetStreamRelay(store, pool, nats, topology),
        *(ProjectionRunner(p, pool, store, js, topology, keys=keys) for p in projections()),
    ]
    merging = CommandHandler(
        store,
        snapshots=services.snapshots(pool, settings.snapshot_every),
        turns=AdvisoryTurns(pool),
    )
    workers.append(MergeCompleter(MergeService(merging, store, pool), pool))
    blobs = open_blob_store(settings)
    workers.append(ImageChecker(store, pool, blobs))
    if settings.router:
        grace = timedelta(seconds=settings.router_grace_seconds)
        workers.append(Router(store, pool, grace=grace))
    if settings.waker:
        workers.append(Waker(store, pool))
    try:
        await asyncio.gather(*(_supervise(w, stop, pool) for w in workers))
    finally:
        await store.close()
        await blobs.close()


async def _supervise(worker: Worker, stop: asyncio.Event, pool: asyncpg.Pool) -> None:
    """Run ``worker`` until ``stop``, starting it again when it fails (a lost
    connection, PostgreSQL or NATS away) after a back-off of at most
    ``MAX_BACKOFF``, so it is back within seconds of its dependency.

    A lost PostgreSQL connection rarely goes alone (a restart, a fail-over,
    every backend terminated): the pool's idle connections are as dead, and a
    restart taking one would fail again, and again, a back-off each time. So
    the pool is told to replace every connection it hands out from then on."""
    delay = 0.25
    while not stop.is_set():
        started = time.monotonic()
        try:
            await worker.run(stop)
        except Exception as error:
            if time.monotonic() - started > HEALTHY_RUN:
                delay = 0.25  # it ran well for a while: this is a new fault
            if isinstance(error, _LOST_CONNECTION):
                await pool.expire_connections()
            log.warning(
                "%s failed (%r); restarting in %.2f s",
                type(worker).__name__,
                error,
                delay,
                exc_info=not isinstance(error, _OUTAGES),  # a bug: show where
            )
            try:
                async with asyncio.timeout(delay):
                    await stop.wait()
            except TimeoutError:
                delay = min(delay * 2, MAX_BACKOFF)
