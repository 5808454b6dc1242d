"""Parley scaled out on one machine (issue 21): a three-node NATS JetStream
cluster (parley/nats_cluster.py) with every stream kept on all three
(``PARLEY_NATS_REPLICAS=3``) and two ``parley worker`` processes, one active
and one hot standby. While commands flow, a NATS node is SIGKILLed and
started again, then the active worker is SIGKILLed: the standby takes over
within 5 s, and at the end the read models equal an independent fold of the
log and the stream holds every event once, in commit order."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import nats

from commands.handler import CommandHandler
from commands.model import MarkRead, SendMessage, StartConversation
from events.catalogue import Channel, Client
from events.jetstream.relay import Topology
from parley.nats_cluster import nats_cluster, wait_until_current, wait_until_ready
from tests.conftest import MakeDatabase
from tests.integration.test_worker_faults import (
    ALICE,
    World,
    assert_read_models_equal_the_fold,
    client_of,
    relay_leaders,
    stream_message_ids,
    world,
)
from tests.processes import Worker

TAKEOVER = 5.0
"""Seconds within which the standby worker must carry on after the active one dies."""
CONVERSATIONS = 20
_prefixes = itertools.count()


def start_worker(w: World, log: Path, urls: str, prefix: str) -> Worker:
    worker = Worker(
        log,
        database_url=w.database_url,
        nats_url=urls,
        prefix=prefix,
        settings={"PARLEY_NATS_REPLICAS": "3"},
    )
    w.processes.append(worker)
    worker.start()
    return worker


async def chatter(handler: CommandHandler, n: int, stop: asyncio.Event) -> None:
    """A conversation whose two sides write (and read) until ``stop`` is set."""
    client = client_of(n)
    start = StartConversation(client=Client(id=f"c-{n}", name=f"Client {n}"), channel=Channel.WEB)
    cid = (await handler.handle(start, ALICE)).conversation_id
    i = 0
    while not stop.is_set():
        i += 1
        sender = client if i % 3 else ALICE
        await handler.handle(SendMessage(conversation_id=cid, content=f"m{i} of {n}"), sender)
        if i % 10 == 0:
            await handler.handle(MarkRead(conversation_id=cid), ALICE if i % 20 else client)
        await asyncio.sleep(0.01)


async def advanced(w: World, beyond: dict[str, int], by: int = 1) -> bool:
    """Every checkpoint moved at least ``by`` past ``beyond`` (or reached the head)."""
    positions, head = await w.positions(), await w.store.head_position()
    return all(positions[name] >= min(beyond[name] + by, head) for name in positions)


async def test_a_killed_nats_node_and_a_killed_worker_lose_and_double_nothing(
    make_database: MakeDatabase, nats_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{nats_prefix}c{next(_prefixes)}"
    with nats_cluster(tmp_path / "nats") as cluster:
        await wait_until_ready(cluster.urls)
        async with world(make_database) as w:
            workers = [
                start_worker(w, tmp_path / f"worker-{n}.log", cluster.urls, prefix) for n in (1, 2)
            ]
            await w.wait_until_started()
            stop = asyncio.Event()
            writing = asyncio.gather(*(chatter(w.handler, n, stop) for n in range(CONVERSATIONS)))
            try:
                # A NATS node dies mid-stream: two of three keep the streams going.
                await w.wait_for(lambda: relay_past(w, 500), "relaying")
                cluster.kill(0)
                before = await w.positions()
                await w.wait_for(lambda: advanced(w, before, 300), "going on without node 0")
                cluster.restart(0)
                await wait_until_current(cluster.urls, Topology(prefix).stream)  # one at a time

                # The active worker dies: the standby carries on within TAKEOVER.
                [leader] = await relay_leaders(w, workers)
                leader.kill()
                killed_at, at_kill = time.monotonic(), await w.positions()
                await w.wait_for(lambda: advanced(w, at_kill), "taken over", timeout=30)
                took = time.monotonic() - killed_at
                print(f"\nthe standby took over {took:.2f} s after the kill")
                assert took <= TAKEOVER, f"the standby took over after {took:.1f} s"
                await w.wait_for(lambda: advanced(w, at_kill, 300), "going on after the takeover")
            finally:
                stop.set()
                async with asyncio.timeout(30):
                    await writing

            head = await w.wait_until_caught_up(timeout=60)
            await assert_read_models_equal_the_fold(w)
            log = await w.store.read_all(after=0, limit=head)
            ids = await stream_message_ids(cluster.urls, Topology(prefix))
            assert ids == [str(e.event_id) for e in log]
            await assert_kept_on_three(cluster.urls, Topology(prefix))


async def relay_past(w: World, position: int) -> bool:
    return (await w.positions())["relay"] >= position


async def assert_kept_on_three(urls: str, topology: Topology) -> None:
    """The events stream has three replicas, all current."""
    await wait_until_current(urls, topology.stream)
    nc = await nats.connect(servers=urls.split(","))
    try:
        info = await nc.jetstream(timeout=30).stream_info(topology.stream)
    finally:
        await nc.close()
    assert info.config.num_replicas == 3
    assert info.cluster is not None and len(info.cluster.replicas or []) == 2
