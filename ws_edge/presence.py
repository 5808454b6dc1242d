"""Presence: who is connected to which conversation, across every node.

Each open conversation socket is one key in a JetStream key-value bucket,
``<PREFIX>_PRESENCE``: ``<conversation_id>.<connection id>``, whose value
says who is connected (user id and role). The node holding the socket puts
the key when the socket opens, deletes it when it closes, and puts it again
every ``ttl / 3`` seconds while it stays open. Every node watches the whole
bucket, so every node knows every connection, wherever it is.

A node that dies cannot delete its keys; they just stop being refreshed.
Every node forgets a key not refreshed for ``ttl`` seconds, and the bucket's
own TTL (its stream's max age) drops it from the server, so a node started
later never sees it. So the connections of a dead node are gone everywhere
within ``ttl`` seconds (``PARLEY_PRESENCE_TTL_SECONDS``, 30 by default).
(NATS 2.11 can also write a delete marker when a key ages out; we do not
rely on it, so that 2.9 and 2.10 servers work too.)

A user is *online* in a conversation while at least one of their sockets is
connected to it. The moments that changes — ``joined``, ``left`` — are
handed to the listener (the hub), which sends PRESENCE frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import StorageType
from nats.js.kv import KeyValue

log = logging.getLogger("parley.ws")


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """The value of one presence key: one socket on one conversation."""

    conversation_id: UUID
    user_id: str
    role: str
    since: datetime
    node: str


class OnlineUser(msgspec.Struct, frozen=True, kw_only=True):
    """Someone online in a conversation (GET .../presence)."""

    user_id: str
    role: str
    since: datetime
    """When their earliest open socket on it connected."""
    connections: int


@dataclass(frozen=True)
class Change:
    conversation_id: UUID
    user_id: str
    role: str
    state: Literal["joined", "left"]


Listener = Callable[[Change], None]

_decode = msgspec.json.Decoder(Connection).decode
_encode = msgspec.json.Encoder().encode


@dataclass
class _Known:
    connection: Connection
    refreshed: float  # time.monotonic() of the last put (as seen here)


class Presence:
    """This node's view of every connection, and its own connections' keys."""

    def __init__(self, nats: NATS, prefix: str, *, ttl: float) -> None:
        self._nats = nats
        self.bucket = f"{prefix.upper()}_PRESENCE"
        self.ttl = ttl
        self.node = uuid.uuid4().hex
        self._kv: KeyValue | None = None
        self._mine: dict[str, Connection] = {}  # key -> value, for refreshing
        self._known: dict[str, _Known] = {}  # every node's connections
        self._keys: dict[tuple[UUID, str], set[str]] = {}  # (conversation, user) -> keys
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- life --------------------------------------------------------------------------

    async def start(self) -> None:
        js = self._nats.jetstream()
        try:
            self._kv = await js.key_value(self.bucket)
        except Exception:  # no such bucket yet (nats-py raises BucketNotFoundError)
            self._kv = await js.create_key_value(
                bucket=self.bucket, history=1, ttl=self.ttl, storage=StorageType.MEMORY
            )
        watcher = await self._kv.watchall()
        self._tasks = [
            asyncio.create_task(self._watch(watcher)),
            asyncio.create_task(self._refresh()),
            asyncio.create_task(self._sweep()),
        ]

    async def stop(self) -> None:
        """Say goodbye: delete this node's keys, stop watching."""
        for key in list(self._mine):
            await self._delete(key)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- this node's sockets -------------------------------------------------------------

    async def join(self, conversation_id: UUID, user_id: str, role: str) -> str:
        """A socket opened on ``conversation_id``: its presence key."""
        key = f"{conversation_id}.{uuid.uuid4().hex}"
        connection = Connection(
            conversation_id=conversation_id,
            user_id=user_id,
            role=role,
            since=datetime.now(UTC),
            node=self.node,
        )
        self._mine[key] = connection
        self._learn(key, connection, time.monotonic())  # seen here at once
        await self._put(key, connection)
        return key

    async def leave(self, key: str) -> None:
        if self._mine.pop(key, None) is not None:
            self._forget(key)
            await self._delete(key)

    # -- queries -----------------------------------------------------------------------

    def online(self, conversation_id: UUID) -> list[OnlineUser]:
        """Who is connected to ``conversation_id`` now, earliest first."""
        users: dict[str, OnlineUser] = {}
        for known in self._known.values():
            c = known.connection
            if c.conversation_id != conversation_id:
                continue
            seen = users.get(c.user_id)
            users[c.user_id] = OnlineUser(
                user_id=c.user_id,
                role=c.role,
                since=c.since if seen is None else min(seen.since, c.since),
                connections=1 if seen is None else seen.connections + 1,
            )
        return sorted(users.values(), key=lambda u: (u.since, u.user_id))

    def online_users(self) -> int:
        """Distinct users connected to at least one conversation, on any node."""
        return len({user_id for _, user_id in self._keys})

    # -- keeping the view -----------------------------------------------------------------

    def _learn(self, key: str, connection: Connection, refreshed: float) -> None:
        known = self._known.get(key)
        if known is not None:
            known.refreshed = max(known.refreshed, refreshed)
            return
        self._known[key] = _Known(connection, refreshed)
        keys = self._keys.setdefault((connection.conversation_id, connection.user_id), set())
        keys.add(key)
        if len(keys) == 1:
            self._tell(connection, "joined")

    def _forget(self, key: str) -> None:
        known = self._known.pop(key, None)
        if known is None:
            return
        c = known.connection
        keys = self._keys[(c.conversation_id, c.user_id)]
        keys.discard(key)
        if not keys:
            del self._keys[(c.conversation_id, c.user_id)]
            self._tell(c, "left")

    def _tell(self, connection: Connection, state: Literal["joined", "left"]) -> None:
        change = Change(connection.conversation_id, connection.user_id, connection.role, state)
        for listener in self._listeners:
            listener(change)

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # the end of the initial values
                continue
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                if entry.key not in self._mine:
                    self._forget(entry.key)
                continue
            try:
                connection = _decode(entry.value)
            except msgspec.DecodeError:
                log.warning("undecodable presence entry %s", entry.key)
                continue
            self._learn(entry.key, connection, _refreshed_at(entry.created))

    async def _refresh(self) -> None:
        """Keep this node's keys alive (and put them back after a NATS outage).

        Refreshes are plain publishes on the bucket's subjects (JetStream stores
        them as puts) without waiting for each acknowledgement: a node with
        thousands of sockets would otherwise make thousands of request/replies
        in a burst every ``ttl / 3``. A refresh that is lost is made good by the
        next one, a third of the TTL later."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                for n, (key, connection) in enumerate(list(self._mine.items()), 1):
                    await self._nats.publish(f"$KV.{self.bucket}.{key}", _encode(connection))
                    if n % 200 == 0:
                        await asyncio.sleep(0)  # let the sockets have the loop
            except Exception as error:  # NATS down: the next round tries again
                log.warning("presence: could not refresh: %s", error)

    async def _sweep(self) -> None:
        """Forget other nodes' keys not refreshed for ``ttl`` (their node died)."""
        while True:
            await asyncio.sleep(min(1.0, self.ttl / 10))
            horizon = time.monotonic() - self.ttl
            for key, known in list(self._known.items()):
                if known.refreshed < horizon and key not in self._mine:
                    self._forget(key)

    async def _put(self, key: str, connection: Connection) -> None:
        assert self._kv is not None
        try:
            await self._kv.put(key, _encode(connection))
        except Exception as error:  # NATS down: the refresher tries again
            log.warning("presence: could not put %s: %s", key, error)

    async def _delete(self, key: str) -> None:
        assert self._kv is not None
        with contextlib.suppress(Exception):
            await self._kv.delete(key)


def _refreshed_at(created: datetime | None) -> float:
    """The monotonic time of a put the server stamped at ``created``."""
    now = time.monotonic()
    if created is None:
        return now
    age = (datetime.now(UTC) - created).total_seconds()
    return now - max(0.0, age)
