"""A `parley serve` process frozen (SIGSTOP) for several presence TTLs, then
thawed (SIGCONT): it must not take the other nodes' live users for gone
before it has heard from those nodes again, yet a node that really died
while it was frozen is still reaped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import MakeDatabase
from tests.e2e.cluster import Node, running_cluster, start_on, ws
from tests.e2e.conftest import Tokens
from tests.e2e.test_presence_and_limits import eventually, presence_of
from tests.e2e.test_websocket import next_frame, token_for

TTL = 2.0
PAUSE = 5 * TTL


@pytest.fixture
async def cluster(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[list[Node]]:
    settings = {"PARLEY_PRESENCE_TTL_SECONDS": str(TTL)}
    logs = tmp_path_factory.mktemp("presence-pause")
    async with running_cluster(make_database, nats_url, nats_prefix, logs, settings, 3) as nodes:
        yield nodes


async def record_presence(socket: ClientConnection, frames: list[tuple[str, str]]) -> None:
    """Every PRESENCE frame ``socket`` gets, as (user, state), until it closes."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in socket:
            frame = json.loads(raw)
            if frame["type"] == "PRESENCE":
                frames.append((frame["user_id"], frame["state"]))


async def test_a_thawed_node_keeps_live_users_and_still_reaps_a_node_that_died_meanwhile(
    cluster: list[Node], tokens: Tokens
) -> None:
    a, b, c = cluster
    cid = await start_on(a, tokens, client_id="c-thaw")
    carol = token_for("carol", role="client", client_id="c-thaw")
    seen_on_b: list[tuple[str, str]] = []
    async with connect(ws(b, "/ws/inbox", token_for("observer"))) as observer:
        await next_frame(observer, "READY")
        recording = asyncio.create_task(record_presence(observer, seen_on_b))
        try:
            async with (
                connect(ws(a, f"/ws/{cid}", carol)) as on_a,  # carol: only ever on node A
                connect(ws(c, f"/ws/{cid}", token_for("dave"))) as on_c,  # on C, which dies
                connect(ws(b, f"/ws/{cid}", token_for("staff-b"))) as on_b,
            ):
                for socket in (on_a, on_c, on_b):
                    await next_frame(socket, "READY")
                await _thaw_scenario(a, b, c, cid, tokens, seen_on_b)
        finally:
            recording.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recording


async def _thaw_scenario(
    a: Node, b: Node, c: Node, cid: str, tokens: Tokens, seen_on_b: list[tuple[str, str]]
) -> None:
    everyone = {"carol", "dave", "staff-b"}

    async def b_sees_everyone() -> bool:
        return set(await presence_of(b, cid, tokens)) == everyone

    await eventually(b_sees_everyone)
    await eventually(lambda: _true({("carol", "joined"), ("dave", "joined")} <= {*seen_on_b}))

    b.process.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        # A takes the silent B for dead (a TTL), then C dies for real.
        async def a_dropped_b() -> bool:
            return "staff-b" not in await presence_of(a, cid, tokens)

        await eventually(a_dropped_b, TTL + 5)
        c.process.kill()
        c.process.wait(5)
        # The rest of the pause: the stimulus itself, not a wait for a condition.
        await asyncio.sleep(max(0.0, frozen + PAUSE - time.monotonic()))
    finally:
        b.process.send_signal(signal.SIGCONT)
    thawed = time.monotonic()

    # From the first request after the thaw on, B still shows carol.
    views: list[set[str]] = []
    while time.monotonic() - thawed < 3 * TTL:
        views.append(set(await presence_of(b, cid, tokens)))
        assert "carol" in views[-1], (views, b.log.read_text()[-3000:])
        await asyncio.sleep(0.05)
    assert "dave" not in views[-1], views  # C died: reaped, after the thaw
    assert ("carol", "left") not in seen_on_b, seen_on_b
    assert ("dave", "left") in seen_on_b, seen_on_b

    # And B's own user, taken for gone by A while B was frozen, comes back on A.
    async def a_sees_b_again() -> bool:
        return "staff-b" in await presence_of(a, cid, tokens)

    await eventually(a_sees_b_again, 2 * TTL + 5)


async def _true(value: bool) -> bool:
    return value
