"""Presence over a real NATS key-value bucket: several "nodes" (Presence
objects, each with its own connection) agree on who is online, a user with
several sockets joins and leaves once, and a node that dies without saying
goodbye drops out within the TTL — also for a node that starts afterwards."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import nats

from ws_edge.presence import Change, Presence

TTL = 1.5
_prefixes = itertools.count()


@asynccontextmanager
async def node(nats_url: str, prefix: str) -> AsyncIterator[tuple[Presence, list[Change]]]:
    nc = await nats.connect(nats_url)
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
        first = await a.join(cid, "carol", "client")
        second = await a.join(cid, "carol", "client")  # a second tab
        await eventually(lambda: [u.connections for u in b.online(cid)] == [2])
        assert states(seen_by_b, "carol") == ["joined"]
        assert b.online_users() == 1

        await a.leave(first)
        await asyncio.sleep(0.3)
        assert states(seen_by_b, "carol") == ["joined"]  # still one tab open
        await a.leave(second)
        await eventually(lambda: b.online(cid) == [])
        assert states(seen_by_b, "carol") == ["joined", "left"]


async def test_a_node_that_dies_drops_out_within_the_ttl_everywhere(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}p{next(_prefixes)}"
    cid = uuid.uuid4()
    async with node(nats_url, prefix) as (survivor, seen):
        doomed_nc = await nats.connect(nats_url)
        doomed = Presence(doomed_nc, prefix, ttl=TTL)
        await doomed.start()
        await doomed.join(cid, "dave", "client")
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
        await a.join(cid, "erin", "admin")
        await asyncio.sleep(TTL * 3)
        assert [u.user_id for u in b.online(cid)] == ["erin"]
        assert states(seen_by_b, "erin") == ["joined"]
        async with node(nats_url, prefix) as (late, _):
            await eventually(lambda: [u.user_id for u in late.online(cid)] == ["erin"], 2)
