"""Which presence nodes are alive, as far as this node can tell.

A node is alive while this node hears its heartbeat; it is taken for dead
once it has been silent for a TTL. Only the time this node was awake to hear
counts as silence. A node that was frozen (SIGSTOP, a debugger, a blocked
event loop) heard nothing meanwhile: when it wakes, the heartbeats the others
sent are still queued behind the sweep that would read their absence as
death. So each sweep notes how late it comes; one more than a tenth of a TTL
late marks the time since the previous sweep as a pause, and silence within
a pause does not count. The heartbeats queued during a pause count as fresh
as they come in (they were sent during it): a node that kept beating is never
taken for dead, and one that died during the pause is reaped once this node
has listened for a TTL without hearing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

log = logging.getLogger("parley.ws")

NODE = "node."  # the heartbeat keys: node.<node>


class Nodes:
    """When this node last heard from each node, and when it could not hear."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.heard: dict[str, float] = {}  # node -> monotonic time of its last sign of life
        self._pauses: list[tuple[float, float]] = []  # (from, to): this node was frozen
        self._last_sweep: float | None = None

    def woke(self, now: float, interval: float) -> float:
        """Called by every sweep, ``interval`` after the one before: how long
        this node was frozen since that one (0 if it was not)."""
        since, self._last_sweep = self._last_sweep, now
        # A pause that ended a TTL ago changes no verdict: drop it.
        self._pauses = [p for p in self._pauses if p[1] > now - self.ttl]
        if since is None or now - since <= interval + self.ttl / 10:
            return 0.0
        self._pauses.append((since, now))
        return now - since

    def silence(self, at: float, now: float) -> float:
        """How long a node last heard from ``at`` has been silent while this
        node could hear it."""
        paused = sum(max(0.0, min(end, now) - max(start, at)) for start, end in self._pauses)
        return now - at - paused

    def silent(self, node: str, now: float) -> bool:
        """``node`` has been silent for a TTL: take it for dead."""
        at = self.heard.get(node)
        return at is not None and self.silence(at, now) >= self.ttl


class Upkeep:
    """A node's part in keeping the bucket true: its heartbeat, putting back
    its keys when the bucket lost them, and sweeping out the dead."""

    _nats: NATS
    bucket: str
    node: str
    ttl: float
    _nodes: Nodes
    _mine: Mapping[str, msgspec.Struct]  # this node's keys and their values
    _background: set[asyncio.Task[None]]
    _beating = True  # until stop_heartbeat

    def _forget_node(self, node: str) -> None:
        raise NotImplementedError

    async def _heartbeat(self) -> None:
        """Plain publish on the bucket's subject (JetStream stores it as a put)."""
        await self._nats.publish(f"$KV.{self.bucket}.{NODE}{self.node}", b"{}")

    def stop_heartbeat(self) -> None:
        """Send no more heartbeats (nor put back lost keys); the keys stay. To
        the others this node falls silent, as one whose heartbeats are held up
        on the way: a TTL later they take it for dead."""
        self._beating = False

    async def _beat(self) -> None:
        """A heartbeat every ``ttl / 3``; once per ``ttl``, check this node's keys."""
        for beat in itertools.count(1):
            await asyncio.sleep(self.ttl / 3)
            if not self._beating:
                return
            try:
                await self._heartbeat()
                if beat % 3 == 0:
                    await self._put_back_missing()
            except Exception as error:  # NATS down: the next beat tries again
                log.warning("presence: no heartbeat: %s", error)

    async def _put_back_missing(self) -> None:
        """Put back this node's keys the bucket lost: another node that could
        not hear this one took it for dead and purged them (or NATS lost them)."""
        if not self._mine:
            return
        js = self._nats.jetstream()
        info = await js.stream_info(
            f"KV_{self.bucket}", subjects_filter=f"$KV.{self.bucket}.*.{self.node}.*"
        )
        stored = info.state.subjects or {}
        missing = [k for k in list(self._mine) if f"$KV.{self.bucket}.{k}" not in stored]
        if missing:
            log.warning("presence: putting back %d connections the bucket lost", len(missing))
        for n, key in enumerate(missing, 1):
            connection = self._mine.get(key)
            if connection is not None:
                await self._nats.publish(
                    f"$KV.{self.bucket}.{key}", msgspec.json.encode(connection)
                )
            if n % 200 == 0:
                await asyncio.sleep(0)  # let the sockets have the loop

    async def _sweep(self) -> None:
        """Forget (and purge) the nodes silent for a TTL: they died (see Nodes).

        Nothing here awaits but the sleep, so a freeze always falls in a
        sleep, and the next sweep knows of it before it judges anyone."""
        interval = min(1.0, self.ttl / 10)
        self._nodes.woke(time.monotonic(), interval)  # time starts now
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            paused = self._nodes.woke(now, interval)
            if paused:  # the others may have taken this node for dead meanwhile
                log.warning("presence: this node was frozen for %.1f s", paused)
                self._in_background(self._put_back_missing())
            for node in list(self._nodes.heard):
                if node != self.node and self._nodes.silent(node, now):
                    self._forget_node(node)
                    self._in_background(self._purge(node))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("presence: %s", task.exception())

    async def _purge(self, node: str) -> None:
        """Drop ``node``'s keys from the bucket (every node may do it: it is idempotent)."""
        js = self._nats.jetstream()
        stream = f"KV_{self.bucket}"
        with contextlib.suppress(Exception):
            await js.purge_stream(stream, subject=f"$KV.{self.bucket}.*.{node}.*")
            await js.purge_stream(stream, subject=f"$KV.{self.bucket}.{NODE}{node}")


def heard_at(created: datetime | None) -> float:
    """The monotonic time of a put the server stamped at ``created``."""
    now = time.monotonic()
    if created is None:
        return now
    age = (datetime.now(UTC) - created).total_seconds()
    return now - max(0.0, age)
