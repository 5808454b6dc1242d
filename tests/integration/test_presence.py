"""Presence over a real NATS key-value bucket: several "nodes" (Presence
objects, each with its own connection) agree on who is online, a user with
several sockets joins and leaves once, a node that dies without saying
goodbye drops out within the TTL — also for a node that starts afterwards —
and keeping it all alive costs a heartbeat per node, not a message per socket."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from urllib.parse import urlsplit

import nats
from nats.aio.msg import Msg

from ws_edge.presence import Change, Presence

TTL = 1.5
_prefixes = itertools.count()


class Link:
    """A TCP link to NATS that can be cut and healed, as by a network
    partition: cut, it drops its connections and refuses new ones."""

    def __init__(self, nats_url: str) -> None:
        target = urlsplit(nats_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 4222)
        self._up = True
        self.served = 0
        """Connections passed through so far (a reconnect after a heal adds one)."""
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> Link:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"nats://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        self._up = False
        for writer in self._writers:
            writer.close()

    def heal(self) -> None:
        self._up = True

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if not self._up:
            client_w.close()
            return
        server_r, server_w = await asyncio.open_connection(*self._target)
        self._writers |= {client_w, server_w}
        self.served += 1
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            self._writers -= {client_w, server_w}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@asynccontextmanager
async def node(
    nats_url: str, prefix: str, link: Link | None = None
) -> AsyncIterator[tuple[Presence, list[Change]]]:
    """A node; through ``link``, one that can be cut off from NATS (it tries
    to reconnect at once, and publishes nothing while it cannot)."""
    if link is None:
        nc = await nats.connect(nats_url)
    else:
        nc = await nats.connect(
            link.url, reconnect_time_wait=0.05, max_reconnect_attempts=-1, pending_size=0
        )
    presence = Presence(nc, prefix, ttl=TTL)
    changes: list[Change] = []
    presence.listen(changes.append)
    await presence.start()
    try:
        yield presence, changes
    finally:
        await presence.stop()
        await nc.close()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def states(changes: list[Change], user: str) -> list[str]:
    return [c.state for c in changes if c.user_id == user]


async def test_every_node_sees_who_joined_and_left_on_another(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with node(nats_url, prefix) as (a, _), node(nats_url, prefix) as (b, seen_by_b):
        first = a.join(cid, "carol", "client")
        second = a.join(cid, "carol", "client")  # a second tab
        await eventually(lambda: [u.connections for u in b.online(cid)] == [2])
        assert states(seen_by_b, "carol") == ["joined"]
        assert b.online_users() == 1

        a.leave(first)
        await asyncio.sleep(0.3)
        assert states(seen_by_b, "carol") == ["joined"]  # still one tab open
        a.leave(second)
        await eventually(lambda: b.online(cid) == [])
        assert states(seen_by_b, "carol") == ["joined", "left"]


async def test_a_socket_closed_as_it_opened_never_reaches_the_bucket(
    nats_url: str, nats_prefix: str
) -> None:
    """Keys wait a moment in the node's outbox: a put cancelled by its delete
    within that moment is never published, and order holds for the rest."""
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with node(nats_url, prefix) as (a, _), node(nats_url, prefix) as (b, seen_by_b):
        published: list[str] = []
        spy = await nats.connect(nats_url)

        async def on_message(message: Msg) -> None:
            published.append(message.subject)

        await spy.subscribe(f"$KV.{a.bucket}.{cid}.>", cb=on_message)
        await spy.flush()
        a.leave(a.join(cid, "brief", "client"))  # opened and closed at once
        stays = a.join(cid, "steady", "agent")
        await eventually(lambda: [u.user_id for u in b.online(cid)] == ["steady"])
        assert states(seen_by_b, "brief") == []
        a.leave(stays)
        await eventually(lambda: b.online(cid) == [])
        await eventually(lambda: len(published) == 2)
        assert published == [f"$KV.{a.bucket}.{stays}"] * 2  # its put, then its delete
        await spy.close()


async def test_a_node_that_dies_drops_out_within_the_ttl_everywhere(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with node(nats_url, prefix) as (survivor, seen):
        doomed_nc = await nats.connect(nats_url)
        doomed = Presence(doomed_nc, prefix, ttl=TTL)
        await doomed.start()
        try:
            doomed.join(cid, "dave", "client")
            await eventually(lambda: states(seen, "dave") == ["joined"])

            # Dies without a goodbye: no delete, no more refreshes.
            await doomed_nc.close()
            died = time.monotonic()

            async with node(nats_url, prefix) as (latecomer, _):
                # The latecomer sees dave only while his key is fresh...
                await eventually(lambda: states(seen, "dave") == ["joined", "left"], TTL + 2)
                assert time.monotonic() - died <= TTL + 1.1
                await eventually(lambda: latecomer.online(cid) == [], 2)
            assert survivor.online_users() == 0
        finally:
            await doomed.stop()  # its tasks (its connection is gone: nothing reaches NATS)

        # ...and a node started now never sees him at all.
        await asyncio.sleep(TTL)
        async with node(nats_url, prefix) as (later, _):
            await asyncio.sleep(0.3)
            assert later.online(cid) == []


async def test_keys_are_refreshed_so_a_live_socket_outlasts_the_ttl(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with node(nats_url, prefix) as (a, _), node(nats_url, prefix) as (b, seen_by_b):
        a.join(cid, "erin", "admin")
        await asyncio.sleep(TTL * 3)
        assert [u.user_id for u in b.online(cid)] == ["erin"]
        assert states(seen_by_b, "erin") == ["joined"]
        async with node(nats_url, prefix) as (late, _):
            await eventually(lambda: [u.user_id for u in late.online(cid)] == ["erin"], 2)


async def test_keeping_presence_alive_costs_one_heartbeat_per_node_not_one_per_socket(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    conversations = [uuid.uuid4() for _ in range(10)]
    async with node(nats_url, prefix) as (a, _), node(nats_url, prefix) as (b, _):
        for i in range(50):
            a.join(conversations[i % 10], f"user{i}", "client")
        await eventually(lambda: b.online_users() == 50)
        messages: list[str] = []

        async def heard(message: Msg) -> None:
            messages.append(message.subject)

        listener = await nats.connect(nats_url)
        try:
            await listener.subscribe(f"$KV.{a.bucket}.>", cb=heard)
            await asyncio.sleep(TTL * 2)
        finally:
            await listener.close()
        assert b.online_users() == 50  # still every socket, long past the TTL
        heartbeats = [s for s in messages if ".node." in s]
        assert len(heartbeats) == len(messages)  # no per-socket refreshes...
        assert 4 <= len(heartbeats) <= 2 * 7  # ...about 3 beats per TTL from each of 2 nodes


async def test_a_node_cut_off_for_longer_than_the_ttl_puts_its_connections_back(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with (
        Link(nats_url) as link,
        node(nats_url, prefix, link) as (a, _),
        node(nats_url, prefix) as (b, seen_by_b),
    ):
        a.join(cid, "fay", "client")
        await eventually(lambda: states(seen_by_b, "fay") == ["joined"])

        # A cannot reach NATS, so its heartbeats stop: B takes it for dead.
        link.cut()
        await eventually(lambda: states(seen_by_b, "fay") == ["joined", "left"], TTL + 2)

        # A is back: it finds its key gone from the bucket (B purged it) and puts it back.
        link.heal()
        await eventually(lambda: [u.user_id for u in b.online(cid)] == ["fay"], TTL + 2)
        assert states(seen_by_b, "fay") == ["joined", "left", "joined"]


async def test_a_bucket_made_by_an_older_parley_stops_ageing_keys_out(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.create_key_value(bucket=f"{prefix.upper()}_PRESENCE", history=1, ttl=TTL)
        async with node(nats_url, prefix) as (a, _):
            info = await js.stream_info(f"KV_{a.bucket}")
            assert not info.config.max_age
    finally:
        await nc.close()


async def test_a_node_that_could_not_hear_another_relearns_its_connections_when_it_hears_it(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with (
        Link(nats_url) as link,
        node(nats_url, prefix) as (a, _),
        node(nats_url, prefix, link) as (b, seen_by_b),
    ):
        a.join(cid, "gus", "agent")
        await eventually(lambda: states(seen_by_b, "gus") == ["joined"])

        # B is cut off from NATS: it misses A's heartbeats for a TTL and takes
        # A for dead, and its purge of A's keys fails too.
        link.cut()
        await eventually(lambda: states(seen_by_b, "gus") == ["joined", "left"], TTL + 2)

        # B is back; A's next heartbeat: B learns A's connections again from the bucket.
        link.heal()
        await eventually(lambda: [u.user_id for u in b.online(cid)] == ["gus"], TTL + 1)
        assert states(seen_by_b, "gus") == ["joined", "left", "joined"]


async def test_a_new_connection_of_a_node_taken_for_dead_brings_back_its_others(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with (
        Link(nats_url) as link,
        node(nats_url, prefix) as (a, _),
        node(nats_url, prefix, link) as (b, seen_by_b),
    ):
        a.join(cid, "ida", "agent")
        await eventually(lambda: states(seen_by_b, "ida") == ["joined"])

        # A's heartbeats are held up, and B, cut off from NATS, takes A for
        # dead (and cannot purge its keys). B is back: the next it hears of A
        # is a new socket.
        a.stop_heartbeat()
        link.cut()
        await eventually(lambda: states(seen_by_b, "ida") == ["joined", "left"], TTL + 2)
        served = link.served
        link.heal()
        await eventually(lambda: link.served > served, 10)  # B is connected again

        a.join(cid, "jan", "client")
        # With no heartbeat from A (and no put-back): only the new socket
        # can make B learn both.
        await eventually(lambda: sorted(u.user_id for u in b.online(cid)) == ["ida", "jan"])
