"""Presence: who is connected to which conversation, across every node.

Everything lives in one JetStream key-value bucket, ``<PREFIX>_PRESENCE``:

- ``<conversation_id>.<node>.<connection>``: one open conversation socket,
  whose value says who is connected (user id and role). The node holding the
  socket puts the key when the socket opens and deletes it when it closes.
- ``node.<node>``: the node's heartbeat, put again every ``ttl / 3`` seconds.

Every node watches the whole bucket, so every node knows every connection,
wherever it is. Keeping the view alive costs one heartbeat per node, however
many sockets it holds (a key per socket, refreshed, would cost every node a
message per socket of every node, every ``ttl / 3``).

A node that dies says no goodbye: its heartbeat just stops. Every node
forgets the connections of a node whose heartbeat is ``ttl`` seconds old
(``PARLEY_PRESENCE_TTL_SECONDS``, 30 by default) and purges its keys from the
bucket, so a node started later never sees them. A node that stops cleanly
deletes its heartbeat key, and the others forget its connections at once.
A node taken for dead by mistake (the others could not hear it for a TTL)
heals: once per TTL every node checks that the bucket still holds its
connections and puts back any it lost, and a node that hears from a node it
does not know (new, or taken for dead), by a heartbeat or a new connection,
learns that node's connections from the bucket.
A node woken from a freeze (SIGSTOP, a blocked loop) takes no live node for
dead: the time it could not hear is nobody's silence (see presence_nodes).
(None of this needs key TTLs or delete markers, so NATS 2.9 and 2.10 work.)

A user is *online* in a conversation while at least one of their sockets is
connected to it. The moments that changes — ``joined``, ``left`` — are
handed to the listener (the hub), which sends PRESENCE frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import StorageType
from nats.js.kv import KeyValue

from events.tasks import cancel_and_wait
from ws_edge.presence_model import Change as Change
from ws_edge.presence_model import Connection, Listener
from ws_edge.presence_model import OnlineUser as OnlineUser
from ws_edge.presence_nodes import NODE, Nodes, Upkeep, heard_at
from ws_edge.presence_outbox import Outbox

log = logging.getLogger("parley.ws")


_decode, _encode = msgspec.json.Decoder(Connection).decode, msgspec.json.Encoder().encode


class Presence(Upkeep):
    """This node's view of every connection, and its own connections' keys."""

    def __init__(self, nats: NATS, prefix: str, *, ttl: float, replicas: int = 1) -> None:
        self._nats = nats
        self.replicas = replicas  # of the bucket, when this node creates it
        self.bucket = f"{prefix.upper()}_PRESENCE"
        self.ttl = ttl
        self.node = uuid.uuid4().hex
        self._connections = itertools.count(1)  # a socket's key: unique with the node's
        self._outbox = Outbox(nats, self.bucket)
        self._kv: KeyValue | None = None
        self._mine: dict[str, Connection] = {}  # key -> value, to put back after an outage
        self._known: dict[str, Connection] = {}  # every node's connections
        self._by_node: dict[str, set[str]] = {}  # node -> its connections' keys
        self._online: dict[UUID, dict[str, OnlineUser]] = {}  # conversation -> user -> theirs
        self._nodes = Nodes(ttl)  # who is alive
        self._keys: dict[tuple[UUID, str], set[str]] = {}  # (conversation, user) -> keys
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._relearning: set[asyncio.Task[None]] = set()
        self._deleted_while_relearning: set[str] = set()  # a relearn must not bring back
        self._background: set[asyncio.Task[None]] = set()  # purges, putting back

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- life --------------------------------------------------------------------------

    async def start(self) -> None:
        js = self._nats.jetstream()
        try:
            self._kv = await js.key_value(self.bucket)
        except Exception:  # no such bucket yet (nats-py raises BucketNotFoundError)
            self._kv = await js.create_key_value(
                bucket=self.bucket, history=1, storage=StorageType.MEMORY, replicas=self.replicas
            )
        else:  # a bucket made by an older Parley aged keys out: that would drop live ones
            info = await js.stream_info(f"KV_{self.bucket}")
            if info.config.max_age:
                await js.update_stream(info.config, max_age=0)
        await self._heartbeat()
        watcher = await self._kv.watchall()
        self._tasks = [
            asyncio.create_task(self._watch(watcher)),
            asyncio.create_task(self._beat()),
            asyncio.create_task(self._sweep()),
        ]

    async def stop(self) -> None:
        """Say goodbye: the others forget this node's connections at once."""
        await cancel_and_wait(*self._tasks, *self._relearning, *self._background)
        await self._outbox.close()
        assert self._kv is not None
        with contextlib.suppress(Exception):
            await self._kv.delete(NODE + self.node)
        await self._purge(self.node)

    # -- this node's sockets -------------------------------------------------------------

    def join(self, conversation_id: UUID, user_id: str, role: str) -> str:
        """A socket opened on ``conversation_id``: its presence key. Seen here
        at once, and by the other nodes once the outbox published it (within
        10 ms; see ``ws_edge.presence_outbox``)."""
        key = f"{conversation_id}.{self.node}.{next(self._connections)}"
        connection = Connection(
            conversation_id=conversation_id,
            user_id=user_id,
            role=role,
            since=datetime.now(UTC),
            node=self.node,
        )
        self._mine[key] = connection
        self._learn(key, connection)
        self._outbox.put(key, _encode(connection))
        return key

    def leave(self, key: str) -> None:
        if self._mine.pop(key, None) is not None:
            self._forget(key)
            self._outbox.delete(key)

    # -- queries -----------------------------------------------------------------------

    def online(self, conversation_id: UUID) -> list[OnlineUser]:
        """Who is connected to ``conversation_id`` now, earliest first."""
        users = self._online.get(conversation_id, {}).values()
        return sorted(users, key=lambda u: (u.since, u.user_id))

    def online_users(self) -> int:
        """Distinct users connected to at least one conversation, on any node."""
        return len({user_id for _, user_id in self._keys})

    # -- keeping the view -----------------------------------------------------------------

    def _learn(self, key: str, connection: Connection) -> None:
        if key in self._known:
            return
        self._known[key] = connection
        self._by_node.setdefault(connection.node, set()).add(key)
        # A node heard of only through a connection gets a TTL to send a heartbeat.
        self._nodes.heard.setdefault(connection.node, time.monotonic())
        cid, user = connection.conversation_id, connection.user_id
        keys = self._keys.setdefault((cid, user), set())
        keys.add(key)
        users = self._online.setdefault(cid, {})
        was = users.get(user)
        if was is None:
            users[user] = OnlineUser(
                user_id=user, role=connection.role, since=connection.since, connections=1
            )
            self._tell(connection, "joined")
        else:
            since = min(was.since, connection.since)
            users[user] = msgspec.structs.replace(was, since=since, connections=len(keys))

    def _forget(self, key: str) -> None:
        c = self._known.pop(key, None)
        if c is None:
            return
        node_keys = self._by_node.get(c.node)
        if node_keys is not None:
            node_keys.discard(key)
            if not node_keys:
                del self._by_node[c.node]
        cid, user = c.conversation_id, c.user_id
        keys = self._keys[(cid, user)]
        keys.discard(key)
        users = self._online[cid]
        if keys:
            was = users[user]
            # Only the earliest socket's close moves the user's ``since``.
            since = was.since if c.since > was.since else min(self._known[k].since for k in keys)
            users[user] = msgspec.structs.replace(was, since=since, connections=len(keys))
            return
        del self._keys[(cid, user)]
        del users[user]
        if not users:
            del self._online[cid]
        self._tell(c, "left")

    def _forget_node(self, node: str) -> None:
        """``node`` is gone: forget every connection it held."""
        self._nodes.heard.pop(node, None)
        for key in list(self._by_node.get(node, ())):
            self._forget(key)

    def _tell(self, connection: Connection, state: Literal["joined", "left"]) -> None:
        change = Change(connection.conversation_id, connection.user_id, connection.role, state)
        for listener in self._listeners:
            listener(change)

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        live = False  # past the bucket's initial values
        async for entry in watcher:
            if entry is None:  # the end of the initial values
                live = True
                continue
            deleted = entry.operation in ("DEL", "PURGE") or not entry.value
            if entry.key.startswith(NODE):
                node = entry.key.removeprefix(NODE)
                if deleted:
                    if node != self.node:
                        self._forget_node(node)  # a clean stop
                        if self._relearning:
                            self._deleted_while_relearning.add(node)
                else:
                    self._heard_from(node, heard_at(entry.created))
            elif deleted:
                if entry.key not in self._mine:
                    self._forget(entry.key)
                    if self._relearning:
                        self._deleted_while_relearning.add(entry.key)
            else:
                try:
                    connection = _decode(entry.value)
                except msgspec.DecodeError:
                    log.warning("undecodable presence entry %s", entry.key)
                    continue
                if live and connection.node not in self._nodes.heard:
                    # A new socket of a node not known here (taken for dead
                    # while this node could not hear it) says it lives, as
                    # its heartbeat would: learn its other connections too.
                    self._heard_from(connection.node, time.monotonic())
                self._learn(entry.key, connection)

    def _heard_from(self, node: str, at: float) -> None:
        nodes = self._nodes
        # A node not known here (new, or taken for dead while this node could
        # not hear it): learn what the bucket holds of it, unless the heartbeat
        # is an old one (queued while this node was frozen) of a dead node.
        now = time.monotonic()
        if node not in nodes.heard and node != self.node and nodes.silence(at, now) < self.ttl:
            task = asyncio.create_task(self._relearn(node))
            self._relearning.add(task)
            task.add_done_callback(self._relearning.discard)
        nodes.heard[node] = at  # heartbeats come in order; this replaces any grace

    async def _relearn(self, node: str) -> None:
        assert self._kv is not None
        watcher = await self._kv.watch(f"*.{node}.*")
        try:
            # nats-py marks the end of what the bucket holds with None, sent
            # with the last entry; if a purge took that entry first, no end
            # comes: a TTL is time enough for the rest.
            async with asyncio.timeout(self.ttl):
                async for entry in watcher:
                    if entry is None:
                        return
                    gone = self._deleted_while_relearning
                    if entry.operation is None and entry.value and not {entry.key, node} & gone:
                        with contextlib.suppress(msgspec.DecodeError):
                            self._learn(entry.key, _decode(entry.value))
        except TimeoutError:
            log.info("presence: relearning node %s ended without nats-py's end marker", node)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
            if len(self._relearning) <= 1:  # the last one running: this one
                self._deleted_while_relearning.clear()
