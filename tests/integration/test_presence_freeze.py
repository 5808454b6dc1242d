"""A presence node frozen for several TTLs (its event loop blocked, in a
thread of its own, as SIGSTOP would freeze a process) while the others run
on: when it thaws it keeps the live node's users, and it still reaps a node
that died while it was frozen."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import nats

from tests.integration.test_presence import TTL, eventually, node, states
from ws_edge.presence import Change, Presence

PAUSE = 4 * TTL
_prefixes = itertools.count()
T = TypeVar("T")


@dataclass
class ThreadNode:
    """A Presence running on its own event loop, in its own thread."""

    presence: Presence
    changes: list[Change]
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def freeze(self, seconds: float) -> None:
        """Block its loop for ``seconds``: nothing of it runs meanwhile."""
        self.loop.call_soon_threadsafe(time.sleep, seconds)

    async def online(self, cid: UUID) -> list[str]:
        """Who it says is online (answered once it is not frozen)."""

        async def ask() -> list[str]:
            return [u.user_id for u in self.presence.online(cid)]

        return await self.run(ask())


@asynccontextmanager
async def node_in_a_thread(nats_url: str, prefix: str) -> AsyncIterator[ThreadNode]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    changes: list[Change] = []

    async def start() -> tuple[Presence, nats.NATS]:
        nc = await nats.connect(nats_url)
        presence = Presence(nc, prefix, ttl=TTL)
        presence.listen(changes.append)
        await presence.start()
        return presence, nc

    presence, nc = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(start(), loop))
    frozen = ThreadNode(presence, changes, loop)

    async def stop() -> None:
        await presence.stop()
        await nc.close()

    try:
        yield frozen
    finally:
        await frozen.run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def test_a_thawed_node_keeps_the_live_users_and_reaps_a_node_that_died_meanwhile(
    nats_url: str, nats_prefix: str
) -> None:
    prefix = f"{nats_prefix}f{next(_prefixes)}"
    cid = uuid.uuid4()
    async with node(nats_url, prefix) as (a, _), node_in_a_thread(nats_url, prefix) as b:
        doomed_nc = await nats.connect(nats_url)
        doomed = Presence(doomed_nc, prefix, ttl=TTL)
        await doomed.start()
        try:
            a.join(cid, "ann", "client")
            doomed.join(cid, "dan", "agent")
            both_joined = ["joined"], ["joined"]
            await eventually(
                lambda: (states(b.changes, "ann"), states(b.changes, "dan")) == both_joined
            )

            b.freeze(PAUSE)
            frozen = time.monotonic()
            await doomed_nc.close()  # dies while B is frozen, without a goodbye
            # A reaps it and purges its keys; a purge tells no watcher: B must reap it itself.
            assert await b.online(cid) == ["ann", "dan"]  # answered as soon as B thaws
            thawed = time.monotonic()
            assert thawed - frozen >= PAUSE - 0.1

            while "dan" in await b.online(cid):
                assert "ann" in await b.online(cid)
                assert time.monotonic() - thawed < TTL + 1, "the dead node was not reaped"
                await asyncio.sleep(0.02)
            assert states(b.changes, "dan") == ["joined", "left"]
            # A full TTL later, ann (on the live node) is still there and never left.
            await asyncio.sleep(max(0.0, thawed + TTL + 0.5 - time.monotonic()))
            assert await b.online(cid) == ["ann"]
            assert states(b.changes, "ann") == ["joined"]
        finally:
            await doomed.stop()
