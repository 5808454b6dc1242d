"""Rebuilding a projection gives the same tables, while the read API keeps answering."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import nats
import uvicorn

from commands.handler import CommandHandler
from commands.merge_service import MergeService
from commands.model import (
    Actor,
    MarkRead,
    MergeConversation,
    MergeTarget,
    Role,
    SendMessage,
    StartConversation,
)
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentRegistered,
    Availability,
    Channel,
    Client,
    ConversationAssigned,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    Event,
    MessagesRead,
    Priority,
    Side,
    Status,
    TeamCreated,
    TeamMemberAdded,
)
from events.envelope import NewEvent
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore, create_pool
from parley.app import create_app
from parley.settings import Settings
from projections.inbox import InboxProjection
from projections.merges import MergesProjection
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner
from projections.staff import StaffProjection
from projections.timeline import TimelineProjection
from tests.conftest import MakeDatabase
from tests.e2e.conftest import SECRET, Tokens, free_port
from tests.factories import message

CONVERSATIONS = 200
MESSAGES_PER_CONVERSATION = 500  # 100,000 messages in all
AGENTS = [f"agent-{n}" for n in range(5)]
PROJECTIONS = (InboxProjection, TimelineProjection, StaffProjection, MergesProjection)


def new(*data: Event) -> list[NewEvent]:
    return [NewEvent(event_id=uuid.uuid4(), data=d) for d in data]


async def staff_directory(store: PostgresEventStore) -> None:
    """Five agents in one team, some online."""
    await store.append("team-support", new(TeamCreated(team_id="support", name="Support")), 0)
    for n, agent in enumerate(AGENTS):
        registered = AgentRegistered(agent_id=agent, display_name=f"Agent {n}", capacity=50)
        online = AgentAvailabilityChanged(agent_id=agent, availability=Availability.ONLINE)
        await store.append(f"agent-{agent}", new(registered, online), 0)
        await store.append(
            "team-support", new(TeamMemberAdded(team_id="support", agent_id=agent)), n + 1
        )


def workflow(cid: uuid.UUID, n: int) -> list[NewEvent]:
    """After the messages: several staff readers, an assignment, for some a
    re-queue, a close and a reopen."""
    agent = AGENTS[n % len(AGENTS)]
    events: list[Event] = [
        MessagesRead(conversation_id=cid, reader=Side.ADMIN, reader_id=reader, up_to_seq=up_to)
        for reader, up_to in ((AGENTS[0], 100 + n), (AGENTS[1], 7 * n % 450 + 1))
    ]
    events.append(
        ConversationAssigned(conversation_id=cid, agent_id=agent, team_id="support", by="alice")
    )
    if n % 3 == 0:
        events.append(
            ConversationUnassigned(
                conversation_id=cid, agent_id=agent, team_id="support", by="alice"
            )
        )
    if n % 4 == 0:
        events.append(
            ConversationStatusChanged(
                conversation_id=cid, from_status=Status.ACTIVE, to_status=Status.CLOSED
            )
        )
    if n % 8 == 0:
        events.append(
            ConversationStatusChanged(
                conversation_id=cid, from_status=Status.CLOSED, to_status=Status.ACTIVE
            )
        )
    events.append(
        MessagesRead(conversation_id=cid, reader=Side.ADMIN, reader_id=agent, up_to_seq=400)
    )
    return new(*events)


async def fill(store: PostgresEventStore) -> None:
    await staff_directory(store)
    numbers = iter(range(CONVERSATIONS))

    async def conversation() -> None:
        n = next(numbers)
        cid = uuid.uuid4()
        stream = f"conversation-{cid}"
        started = ConversationStarted(
            conversation_id=cid,
            client=Client(id=f"c-{cid.hex[:6]}", name="Bulk"),
            channel=Channel.WEB,
            priority=Priority.LOW,
            status=Status.ACTIVE,
        )
        await store.append(stream, [NewEvent(event_id=uuid.uuid4(), data=started)], 0)
        for first in range(1, MESSAGES_PER_CONVERSATION + 1, 100):
            batch = [message(cid, seq=s, content=f"bulk {s}") for s in range(first, first + 100)]
            await store.append(stream, batch, expected_version=first)
        await store.append(stream, workflow(cid, n), MESSAGES_PER_CONVERSATION + 1)

    await asyncio.gather(*(conversation() for _ in range(CONVERSATIONS)))


async def merged(pool: asyncpg.Pool, store: PostgresEventStore, pairs: int = 5) -> None:
    """Conversations of one client merged in pairs (read in part first), and
    one merge whose second step has not happened yet."""
    handler, ann = CommandHandler(store), Actor(id=AGENTS[0], role=Role.AGENT)
    client = Actor(id="merger", role=Role.CLIENT, client_id="c-merger")
    ids = []
    for n in range(2 * pairs + 2):
        start = StartConversation(client=Client(id="c-merger", name="Merger"), channel=Channel.WEB)
        cid = (await handler.handle(start, ann)).conversation_id
        for i in range(n + 3):
            sender = client if i % 2 else ann
            await handler.handle(SendMessage(conversation_id=cid, content=f"m{i}"), sender)
        await handler.handle(MarkRead(conversation_id=cid, up_to_seq=2), ann)
        ids.append(cid)
    service = MergeService(handler, store, pool)
    for source, target in zip(ids[0:-2:2], ids[1:-2:2], strict=True):
        await service.merge(source, target, ann)
    # Only step 1 of the last (so the merges table holds a row not imported).
    known = MergeTarget(client_id="c-merger", status=Status.ACTIVE)
    step_one = MergeConversation(conversation_id=ids[-2], into=ids[-1], target=known)
    await handler.handle(step_one, ann)


async def snapshot(pool: asyncpg.Pool, table: str) -> list[asyncpg.Record]:
    """Every row, in a total order (by the whole row)."""
    return list(await pool.fetch(f"SELECT * FROM {table} t ORDER BY t::text"))


async def test_a_rebuild_equals_the_incremental_tables_and_reads_keep_working(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tokens: Tokens
) -> None:
    url = await make_database()
    pool = await create_pool(url, max_size=20)
    store = PostgresEventStore(pool)
    nc = await nats.connect(nats_url)
    await fill(store)
    await merged(pool, store)
    head = await store.head_position()
    assert head >= 100_000
    for make in PROJECTIONS:
        runner = ProjectionRunner(make(), pool, store, None, Topology())  # type: ignore[arg-type]
        await runner.catch_up_from_store()
    tables = [t for make in PROJECTIONS for t in make().tables]
    before = {t: await snapshot(pool, t) for t in tables}
    # Each row is at its stream's head: the start, every message, the workflow.
    heads = await pool.fetch(
        "SELECT stream_id, max(stream_position) AS head FROM events GROUP BY stream_id"
    )
    assert {
        f"conversation-{r['conversation_id']}": r["version"] for r in before["conversations"]
    } == {r["stream_id"]: r["head"] for r in heads if r["stream_id"].startswith("conversation-")}
    # The workflow left every kind of row: assigned, waiting, closed, per-staff cursors.
    assert {r["assignee_id"] is None for r in before["conversations"]} == {True, False}
    assert {r["waiting_since"] is None for r in before["conversations"]} == {True, False}
    assert len(before["inbox_staff_cursors"]) >= 2 * CONVERSATIONS
    assert len(before["team_members"]) == len(AGENTS)
    # Merges: sources closed into their targets, copies, one not imported yet.
    assert {r["imported"] for r in before["merges"]} == {True, False}
    assert sum(r["merged_from_message_id"] is not None for r in before["messages"]) > 10

    port = free_port()
    settings = Settings(
        database_url=url,
        nats_url=nats_url,
        nats_prefix=f"{nats_prefix}rb",  # this run's own streams and buckets
        jwt_secret=SECRET,
        http_port=port,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, pool=pool, nats=nc), port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    statuses: list[int] = []
    rebuilt = asyncio.Event()
    cid = before["conversations"][0][0]

    async def read_while_rebuilding() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
            while not rebuilt.is_set():
                for path, params in (
                    ("/api/conversations", {"limit": 20}),
                    ("/api/messages", {"conversation_id": str(cid), "limit": 20}),
                ):
                    response = await api.get(path, params=params, headers=tokens.admin)
                    statuses.append(response.status_code)

    try:
        reader = asyncio.create_task(read_while_rebuilding())
        for make in PROJECTIONS:
            assert await rebuild(pool, store, make()) == head
        rebuilt.set()
        await reader
    finally:
        server.should_exit = True
        await serving
        await nc.close()

    assert len(statuses) > 10 and set(statuses) == {200}
    # Every table, every column, version included, is identical after the rebuild.
    assert {t: await snapshot(pool, t) for t in tables} == before
    assert await pool.fetchval("SELECT position FROM checkpoints WHERE name = 'inbox'") == head
    await store.close()
    await pool.close()
