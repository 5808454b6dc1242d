"""Prometheus metrics: GET /metrics (docs/OPERATIONS.md says what each means).

The domain knows nothing of Prometheus: the command handler reports each
command it answered (``on_handled``) and the event store each group commit
(``on_commit``) through callbacks, and gauges (consumer positions and lag,
sockets) are read when scraped.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from uuid import UUID

import asyncpg
from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from commands import errors
from commands.model import AnyCommand
from commands.result import CommandResult
from events.postgres.replica import ReadPools
from parley.logs import correlation_id
from parley.status import read_status
from ws_edge.http import Edge

log = logging.getLogger("parley.commands")


WS_LIMITS = ("too_many_connects", "too_many_sockets", "too_many_subscriptions")
"""The edge's node-protecting limits, as counted in its tally (``refused_<limit>``)."""


class Metrics:
    """One registry per app (so tests can build several apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.commands = Counter(
            "parley_commands",
            "Commands handled, by type and outcome",
            ["command", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "parley_command_seconds", "Time to handle a command", ["command"], registry=r
        )
        self.append_seconds = Histogram(
            "parley_append_seconds", "Duration of one group commit of appends", registry=r
        )
        self.events_appended = Counter(
            "parley_events_appended", "Events appended by this process", registry=r
        )
        self.head = Gauge(
            "parley_log_head_position", "Highest global position in the log", registry=r
        )
        self.position = Gauge(
            "parley_consumer_position",
            "Checkpoint of the relay and each projection",
            ["consumer"],
            registry=r,
        )
        self.lag = Gauge(
            "parley_consumer_lag_events",
            "Events a consumer is behind the head",
            ["consumer"],
            registry=r,
        )
        self.ws_connections = Gauge(
            "parley_ws_connections", "Open WebSocket sessions on this process", registry=r
        )
        self.online_users = Gauge(
            "parley_online_users",
            "Distinct users connected to a conversation, on any process (presence)",
            registry=r,
        )
        self.ws_refused = Gauge(
            "parley_ws_refused",
            "WebSocket connections or subscriptions refused by a limit since start",
            ["limit"],
            registry=r,
        )
        self.ws_frames = Gauge(
            "parley_ws_frames",
            "WebSocket frames since start, by direction",
            ["direction"],
            registry=r,
        )
        self.rate_limited = Gauge(
            "parley_ws_rate_limited",
            "Frames refused by a rate limit since start",
            ["kind"],
            registry=r,
        )
        self.replica_up = Gauge(
            "parley_read_replica_up",
            "1 while the read replica answers (no sample without one)",
            ["replica"],
            registry=r,
        )
        self.replica_behind = Gauge(
            "parley_read_replica_behind_bytes",
            "WAL written on the primary and not yet replayed on the read replica",
            ["replica"],
            registry=r,
        )
        self.ws_tally: Tally[str] = Tally()
        """Counted by the edge: frames_in, frames_out, rate_limited_<kind>."""

    def on_commit(self, seconds: float, events: int) -> None:
        self.append_seconds.observe(seconds)
        self.events_appended.inc(events)

    def on_handled(
        self,
        command: AnyCommand,
        outcome: CommandResult | BaseException,
        seconds: float,
        correlation: UUID | None,
    ) -> None:
        """Count a command by type and outcome, time it, and log it."""
        name = type(command).__name__
        self.command_seconds.labels(name).observe(seconds)
        token = correlation_id.set(str(correlation) if correlation else None)
        try:
            _count(self.commands, name, outcome)
        finally:
            correlation_id.reset(token)

    async def refresh(self, pool: asyncpg.Pool, sessions: int, online_users: int) -> None:
        """Read the gauges that live elsewhere."""
        async with pool.acquire() as conn:
            head, consumers = await read_status(conn)
        self.head.set(head)
        for consumer in consumers:
            self.position.labels(consumer.name).set(consumer.position)
            self.lag.labels(consumer.name).set(head - consumer.position)
        self.ws_connections.set(sessions)
        self.online_users.set(online_users)
        for limit in WS_LIMITS:
            self.ws_refused.labels(limit).set(self.ws_tally[f"refused_{limit}"])
        self.ws_frames.labels("in").set(self.ws_tally["frames_in"])
        self.ws_frames.labels("out").set(self.ws_tally["frames_out"])
        for kind in ("message", "typing"):
            self.rate_limited.labels(kind).set(self.ws_tally[f"rate_limited_{kind}"])


def _count(commands: Counter, name: str, outcome: CommandResult | BaseException) -> None:
    if isinstance(outcome, errors.DomainError):
        commands.labels(name, outcome.code).inc()
        log.info("command refused", extra={"command": name, "outcome": outcome.code})
        return
    if not isinstance(outcome, CommandResult):
        return  # not a refusal: an error the caller reports (only timed here)
    label = "replayed" if outcome.replayed else "ok"
    commands.labels(name, label).inc()
    log.info(
        "command",
        extra={
            "command": name,
            "outcome": label,
            "conversation_id": str(outcome.conversation_id),
            "position": outcome.position,
            "events": outcome.events,
        },
    )


@get("/metrics", summary="Prometheus metrics", tags=["operations"], include_in_schema=False)
async def metrics_endpoint(
    metrics: NamedDependency[Metrics],
    pool: NamedDependency[asyncpg.Pool],
    edge: NamedDependency[Edge],
    reads: NamedDependency[ReadPools],
) -> Response[bytes]:
    online = 0 if edge.presence is None else edge.presence.online_users()
    await metrics.refresh(pool, len(edge.sessions), online)
    if reads.replica_url is not None:
        metrics.replica_up.labels("read").set(int(reads.status.up))
        if reads.status.behind_bytes is not None:
            metrics.replica_behind.labels("read").set(reads.status.behind_bytes)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
