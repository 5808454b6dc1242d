"""Rebuilding a projection gives the same tables, while the read API keeps answering."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

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
from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentRegistered,
    Availability,
    CannedResponseCreated,
    Channel,
    Client,
    ConversationAssigned,
    ConversationLabelled,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationWoke,
    Event,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
    MessagesRead,
    NoteAdded,
    NotificationsRead,
    Priority,
    Side,
    Status,
    TeamCreated,
    TeamMemberAdded,
    WakeReason,
)
from events.envelope import NewEvent
from events.jetstream.relay import Topology
from events.postgres.store import PostgresEventStore, create_pool
from parley.app import create_app
from parley.settings import Settings
from projections.attachments import AttachmentsProjection
from projections.catalogues import CataloguesProjection
from projections.inbox import InboxProjection
from projections.merges import MergesProjection
from projections.notifications import NotificationsProjection
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner
from projections.search import SearchProjection
from projections.staff import StaffProjection
from projections.timeline import TimelineProjection
from projections.timeline_entries import TimelineEntriesProjection
from tests.conftest import TEST_MASTER_KEY, MakeDatabase
from tests.e2e.conftest import SECRET, Tokens, free_port
from tests.factories import append_patiently, message

CONVERSATIONS = 200
MESSAGES_PER_CONVERSATION = 500  # 100,000 messages in all
AGENTS = [f"agent-{n}" for n in range(5)]
LABELS = ["vip", "billing", "gone"]
PROJECTIONS = (
    InboxProjection,
    TimelineProjection,
    StaffProjection,
    CataloguesProjection,
    NotificationsProjection,
    TimelineEntriesProjection,
    MergesProjection,
    AttachmentsProjection,
    SearchProjection,
)


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


async def catalogues(store: PostgresEventStore) -> None:
    """Three labels (one renamed, one deleted) and a few canned responses."""
    labels: list[Event] = [
        LabelCreated(label_id=label_id, name=label_id.title(), colour="#aa0000")
        for label_id in LABELS
    ]
    labels += [LabelChanged(label_id="vip", name="VIP"), LabelDeleted(label_id="gone")]
    await store.append("labels", new(*labels), 0)
    canned = [
        CannedResponseCreated(
            response_id=uuid.uuid4(),
            code=f"c{n}",
            content="Hello",
            owner_id=AGENTS[n] if n else None,
        )
        for n in range(3)
    ]
    await store.append("canned-responses", new(*canned), 0)


def workflow(cid: uuid.UUID, n: int) -> list[NewEvent]:
    """After the messages: several staff readers, an assignment, for some a
    re-queue, a close and a reopen, a snooze (some woken)."""
    agent = AGENTS[n % len(AGENTS)]
    events: list[Event] = [
        MessagesRead(conversation_id=cid, reader=Side.ADMIN, reader_id=reader, up_to_seq=up_to)
        for reader, up_to in ((AGENTS[0], 100 + n), (AGENTS[1], 7 * n % 450 + 1))
    ]
    events.append(
        ConversationAssigned(conversation_id=cid, agent_id=agent, team_id="support", by="alice")
    )
    if n % 2 == 0:  # a private note naming the next agent
        mentioned = AGENTS[(n + 1) % len(AGENTS)]
        events.append(
            NoteAdded(
                conversation_id=cid,
                note_id=uuid.uuid4(),
                author_id=agent,
                content=f"@{mentioned} note {n}",
                mentions=(mentioned,),
            )
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
    if n % 5 == 1 and n % 4 != 0:  # snoozed; half of them woken since
        until = datetime(2030, 1, 1, n % 24, tzinfo=UTC)
        events.append(
            ConversationSnoozed(
                conversation_id=cid, until=until, from_status=Status.ACTIVE, by="alice"
            )
        )
        if n % 10 == 1:
            events.append(ConversationWoke(conversation_id=cid, reason=WakeReason.TIMER))
    events.append(
        MessagesRead(conversation_id=cid, reader=Side.ADMIN, reader_id=agent, up_to_seq=400)
    )
    for label_id in LABELS[: n % 4]:
        events.append(ConversationLabelled(conversation_id=cid, label_id=label_id, by="alice"))
    if n % 5 == 0 and n % 4:
        events.append(ConversationUnlabelled(conversation_id=cid, label_id="vip", by="alice"))
    return new(*events)


async def uploads(store: PostgresEventStore) -> None:
    """Files uploaded for some conversations; two images checked (one refused)."""
    for n in range(6):
        aid, cid = uuid.uuid4(), uuid.uuid4()
        uploaded = AttachmentUploaded(
            attachment_id=aid,
            conversation_id=cid,
            uploader_id="c-1",
            uploader_side=Side.CLIENT,
            sha256=f"{n:064x}",
            size=10 * n,
            mime_type=("image/png", "application/pdf")[n % 2],
            name=f"file {n}",
        )
        events: list[Event] = [uploaded]
        if n in (0, 2):
            thumbnail = f"{n + 100:064x}" if n == 0 else None
            problem = "broken" if n == 2 else None
            events.append(
                ImageChecked(
                    attachment_id=aid,
                    conversation_id=cid,
                    thumbnail_sha256=thumbnail,
                    problem=problem,
                )
            )
        await store.append(f"attachment-{aid}", new(*events), 0)


async def fill(store: PostgresEventStore) -> None:
    await staff_directory(store)
    await catalogues(store)
    await uploads(store)
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
        await append_patiently(store, stream, [NewEvent(event_id=uuid.uuid4(), data=started)], 0)
        for first in range(1, MESSAGES_PER_CONVERSATION + 1, 100):
            batch = [message(cid, seq=s, content=f"bulk {s}") for s in range(first, first + 100)]
            await append_patiently(store, stream, batch, expected_version=first)
        await append_patiently(store, stream, workflow(cid, n), MESSAGES_PER_CONVERSATION + 1)

    await asyncio.gather(*(conversation() for _ in range(CONVERSATIONS)))
    # Two agents read their notifications so far; the others have not.
    head = await store.head_position()
    for agent in AGENTS[1:3]:
        read = NotificationsRead(agent_id=agent, up_to_position=head)
        await store.append(f"agent-{agent}", new(read), 2)


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
    assert {r["status"] for r in before["conversations"]} == {"active", "closed", "snoozed"}
    assert {r["snoozed_until"] is None for r in before["conversations"]} == {True, False}
    assert len(before["inbox_staff_cursors"]) >= 2 * CONVERSATIONS
    assert len(before["team_members"]) == len(AGENTS)
    assert {r["label_id"] for r in before["labels"]} == {"vip", "billing"}
    assert len(before["canned_responses"]) == 3
    assert {len(r["labels"]) for r in before["conversations"]} == {0, 1, 2, 3}
    # Notes notified their agents, some read since; they and the workflow are entries.
    assert len(before["notifications"]) == CONVERSATIONS // 2
    assert {r["read_at"] is None for r in before["notifications"]} == {True, False}
    assert len(before["timeline_entries"]) > CONVERSATIONS * 2
    # Merges: sources closed into their targets, copies, one not imported yet.
    assert {r["imported"] for r in before["merges"]} == {True, False}
    assert sum(r["merged_from_message_id"] is not None for r in before["messages"]) > 10
    assert {(r["is_image"], r["checked"]) for r in before["attachments"]} == {
        (True, True),
        (True, False),
        (False, False),
    }
    # Search: every conversation, message (a merged one once) and note.
    kinds = Counter(r["kind"] for r in before["search_documents"])
    assert kinds["note"] == CONVERSATIONS // 2
    assert kinds["conversation"] == len(before["conversations"])
    assert kinds["message"] == len(before["messages"]) - sum(
        r["merged_from_message_id"] is not None for r in before["messages"]
    )

    port = free_port()
    settings = Settings(
        database_url=url,
        nats_url=nats_url,
        nats_prefix=f"{nats_prefix}rb",  # this run's own streams and buckets
        jwt_secret=SECRET,
        master_key=TEST_MASTER_KEY,
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
                    ("/api/search", {"q": "bulk", "limit": 20}),
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
