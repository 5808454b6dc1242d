"""The scaled-out rehearsal (issue 21), on `parley cluster up`'s topology
(parley/local_cluster.py): a three-node NATS JetStream cluster, a PostgreSQL
primary and streaming replica, two `parley serve` behind HAProxy and two
`parley worker`. Clients connected through the balancer chat continuously
while, one at a time, a NATS node is SIGKILLed and restarted, an edge is
SIGKILLed (its sockets reconnect through the balancer and resume) and
restarted, the active worker is SIGKILLed (the standby carries on within 5 s),
and the replica is stopped and restarted. Afterwards: each socket saw every
message once, in order; an independent fold of the log equals the read models
on the primary and on the replica; JetStream holds every event once."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from commands.handler import CommandHandler
from events.jetstream.relay import Topology
from events.postgres.store import create_pool
from parley.local_cluster import LocalCluster
from parley.nats_cluster import wait_until_current
from tests.conftest import keyed_store
from tests.e2e.conftest import SECRET, Tokens
from tests.e2e.test_websocket import token_for, ws_url
from tests.integration.test_worker_faults import (
    World,
    assert_read_models_equal_the_fold,
    relay_leaders,
    stream_message_ids,
)

CONVERSATIONS = 4
SEND_EVERY = 0.05  # seconds between one writer's messages
TAKEOVER = 5.0
WRITERS_PER_EDGE = 4
MESSAGES_PER_WRITER = 100


@dataclass
class Chat:
    """One conversation: what its writer sent, what its watcher saw."""

    cid: str
    sent: int = 0
    seen: list[int] = field(default_factory=list)
    position: int = 0  # the last stream position the watcher got
    reconnects: int = 0


async def write(url: str, chat: Chat, tokens: Tokens, stop: asyncio.Event) -> None:
    """Messages until ``stop``; each is retried (same client_message_id) until stored."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while not stop.is_set():
            n = chat.sent + 1
            body = {"conversation_id": chat.cid, "content": f"m{n}", "client_message_id": f"m{n}"}
            while True:
                try:
                    sent = await http.post("/api/messages", json=body, headers=tokens.client)
                    if sent.status_code == 201:
                        break
                    assert sent.status_code in (502, 503, 504), sent.text
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            chat.sent = n
            await asyncio.sleep(SEND_EVERY)


async def watch(url: str, chat: Chat, done: asyncio.Event) -> None:
    """A socket on the conversation through the balancer; when it drops, a new
    one resumes after the last position seen. Ends once ``done`` is set and
    every sent message was seen."""
    token = token_for("watcher", "client", "c-1")
    while not (done.is_set() and len(chat.seen) >= chat.sent):
        try:
            after = {"after": chat.position} if chat.position else {}
            async with connect(ws_url(url, f"/ws/{chat.cid}", token, **after)) as ws:
                while not (done.is_set() and len(chat.seen) >= chat.sent):
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    except TimeoutError:
                        continue
                    if frame["type"] == "HEARTBEAT":
                        await ws.send(json.dumps({"type": "PING"}))
                    elif frame["type"] == "MESSAGE_CREATED":
                        chat.seen.append(frame["seq"])
                    chat.position = max(chat.position, frame.get("stream_position", 0))
        except (OSError, WebSocketException):
            chat.reconnects += 1
            await asyncio.sleep(0.2)


async def traffic_goes_on(chats: list[Chat], what: str, more: int = 20) -> None:
    """Every writer gets ``more`` messages stored (bounded: 30 s)."""
    marks = [chat.sent for chat in chats]
    deadline = time.monotonic() + 30
    while any(chat.sent < mark + more for chat, mark in zip(chats, marks, strict=True)):
        assert time.monotonic() < deadline, f"traffic stopped {what}"
        await asyncio.sleep(0.1)


async def test_chat_through_the_balancer_survives_every_kill_one_at_a_time(
    tmp_path: Path, tokens: Tokens
) -> None:
    cluster = LocalCluster(tmp_path / "cluster", settings={"PARLEY_JWT_SECRET": SECRET})
    try:
        await asyncio.to_thread(cluster.up)
        assert cluster.nats and cluster.primary and cluster.replica
        pool = await create_pool(cluster.primary.url(), max_size=5)
        replica_pool = await create_pool(cluster.replica.url(), max_size=5)
        primary = world_on(cluster.primary.url(), pool)
        await writers_on_one_conversation(cluster, tokens)
        async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as http:
            chats = []
            for n in range(CONVERSATIONS):
                started = await http.post(
                    "/api/conversations",
                    json={"client": {"id": "c-1", "name": f"Carol {n}"}, "channel": "web"},
                    headers=tokens.admin,
                )
                assert started.status_code == 201, started.text
                chats.append(Chat(started.json()["conversation_id"]))
        stop, done = asyncio.Event(), asyncio.Event()
        writers = [asyncio.create_task(write(cluster.url, c, tokens, stop)) for c in chats]
        watchers = [asyncio.create_task(watch(cluster.url, c, done)) for c in chats]
        try:
            await traffic_goes_on(chats, "at the start")

            cluster.nats.kill(1)
            await traffic_goes_on(chats, "with a NATS node down")
            cluster.nats.restart(1)
            await wait_until_current(cluster.nats.urls, Topology().stream)  # one at a time
            await traffic_goes_on(chats, "after the NATS node came back")

            cluster.edges[0].kill()
            await traffic_goes_on(chats, "with an edge killed")
            cluster.edges[0].start()
            await asyncio.to_thread(cluster.wait_ready)

            [leader] = await relay_leaders(primary, cluster.workers)
            leader.kill()
            killed_at, at_kill = time.monotonic(), await primary.positions()
            while not all(p > at_kill[name] for name, p in (await primary.positions()).items()):
                assert time.monotonic() - killed_at < 30, "no worker carried on"
                await asyncio.sleep(0.05)
            took = time.monotonic() - killed_at
            print(f"\nthe standby carried on {took:.2f} s after the kill")
            assert took <= TAKEOVER, f"the standby took over after {took:.1f} s"
            leader.start()

            cluster.replica.stop("immediate")
            await traffic_goes_on(chats, "with the replica stopped")
            cluster.replica.start()
            await traffic_goes_on(chats, "after the replica came back")
        finally:
            stop.set()
            await asyncio.gather(*writers)
            done.set()
            async with asyncio.timeout(60):
                await asyncio.gather(*watchers)

        # Every socket saw every message once, in order, across its reconnects.
        for chat in chats:
            assert chat.seen == list(range(1, chat.sent + 1)), (chat.cid, chat.reconnects)
        assert sum(chat.reconnects for chat in chats) > 0  # the edge's kill reached sockets
        head = await primary.wait_until_caught_up(timeout=60)
        await assert_read_models_equal_the_fold(primary)
        replica = world_on(cluster.replica.url(), replica_pool)
        await replica.wait_for(lambda: caught_up_to(replica, head), "the replica caught up", 30)
        await assert_read_models_equal_the_fold(replica)
        log = await primary.store.read_all(after=0, limit=head)
        ids = await stream_message_ids(cluster.nats.urls, Topology())
        assert ids == [str(e.event_id) for e in log]
        await pool.close()
        await replica_pool.close()
    finally:
        await asyncio.to_thread(cluster.down)


async def writers_on_one_conversation(cluster: LocalCluster, tokens: Tokens) -> None:
    """4 writers per edge, through the balancer, at full speed on one
    conversation: every command succeeds (no 503 ``busy``: the loser of a
    race between edges takes the conversation's turn, commands/turns.py) and
    the seqs are 1..n."""
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
        started = await http.post(
            "/api/conversations",
            json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
            headers=tokens.admin,
        )
        cid = started.json()["conversation_id"]
        answers: Counter[str] = Counter()

        async def writer(w: int) -> None:
            # A client of its own: the balancer spreads connections over the edges.
            async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as own:
                for i in range(MESSAGES_PER_WRITER):
                    body = {"conversation_id": cid, "content": f"w{w} m{i}"}
                    sent = await own.post("/api/messages", json=body, headers=tokens.admin)
                    answers[f"{sent.status_code} {sent.json().get('code', '')}".strip()] += 1

        await asyncio.gather(*(writer(w) for w in range(WRITERS_PER_EDGE * len(cluster.edges))))
        total = WRITERS_PER_EDGE * len(cluster.edges) * MESSAGES_PER_WRITER
        assert answers == {"201": total}
    primary = cluster.primary
    assert primary is not None
    conn = await asyncpg.connect(primary.url())
    try:
        seqs = await conn.fetch(
            "SELECT (data ->> 'seq')::int AS seq FROM events"
            " WHERE stream_id = $1 AND type = 'MessageSent' ORDER BY stream_position",
            f"conversation-{cid}",
        )
    finally:
        await conn.close()
    assert [row["seq"] for row in seqs] == list(range(1, total + 1))


def world_on(url: str, pool: asyncpg.Pool) -> World:
    """The log and read models of one server, read as the cluster writes them."""
    store = keyed_store(pool)
    return World(url, pool, store, CommandHandler(store), [])


async def caught_up_to(world: World, head: int) -> bool:
    return set((await world.positions()).values()) == {head}
