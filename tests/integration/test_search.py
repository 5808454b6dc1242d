"""The search projection and query against real PostgreSQL: what is found,
by whom, once; pages across ranking windows; a rebuild; and the indexes the
statements can use (EXPLAIN, generic plans included)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from uuid import UUID

import pytest

from commands.handler import CommandHandler
from commands.merge_service import MergeService
from commands.model import (
    Actor,
    AddNote,
    AssignConversation,
    ChangeStatus,
    MergeConversation,
    MergeTarget,
    Role,
    SendMessage,
    StartConversation,
    UpdateConversation,
)
from events.catalogue import Channel, Client, Status
from events.postgres.store import PostgresEventStore, create_pool
from projections.inbox import InboxProjection
from projections.merges import MergesProjection
from projections.rebuild import rebuild
from projections.search import SearchProjection
from projections.timeline import TimelineProjection
from read_api.inbox_queries import InboxFilter, Sort, list_conversations
from read_api.search_queries import (
    SEARCH_SETTINGS,
    SearchHit,
    SearchRequest,
    search,
    search_statement,
)
from read_api.search_text import Cursor, decode_cursor
from read_api.views import search_scope
from tests.conftest import MakeDatabase
from tests.integration.test_projections import World, store_runner

ANN = Actor(id="ann", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
DAVE = Actor(id="dave", role=Role.CLIENT, client_id="c-2")
PROJECTIONS = (InboxProjection, TimelineProjection, MergesProjection, SearchProjection)


@pytest.fixture
async def world(make_database: MakeDatabase) -> AsyncIterator[World]:
    pool = await create_pool(await make_database(), min_size=1, max_size=5)
    store = PostgresEventStore(pool)
    yield World(pool, store, CommandHandler(store))
    await store.close()
    await pool.close()


async def project(world: World) -> None:
    for projection in PROJECTIONS:
        await store_runner(world, projection()).catch_up_from_store()


async def start(
    world: World, client: Client, *lines: tuple[Actor, str], summary: str | None = None
) -> UUID:
    command = StartConversation(client=client, channel=Channel.WEB, summary=summary)
    cid = (await world.handler.handle(command, ANN)).conversation_id
    for actor, content in lines:
        await world.handler.handle(SendMessage(conversation_id=cid, content=content), actor)
    return cid


async def find(
    world: World,
    q: str,
    actor: Actor = ANN,
    filters: InboxFilter | None = None,
    *,
    limit: int = 100,
    window: int = 1000,
) -> list[SearchHit]:
    """Every hit of ``q`` as ``actor`` sees them, page after page."""
    request = SearchRequest(
        q=q, scope=search_scope(actor), filters=filters or InboxFilter(), digest="d"
    )
    hits: list[SearchHit] = []
    after: Cursor | None = None
    while True:
        page = await search(world.pool, request, after=after, limit=limit, window=window)
        hits += page.items
        if page.next_after is None:
            return hits
        after = decode_cursor(page.next_after, "d")


CAROL_CLIENT = Client(id="c-1", name="Carol Danvers")
DAVE_CLIENT = Client(id="c-2", name="Dave Lister")


async def test_messages_notes_names_and_summaries_are_found_by_whom_may_see_them(
    world: World,
) -> None:
    mine = await start(
        world, CAROL_CLIENT, (CAROL, "I want a refund for order 42"), (ANN, "Refunded today")
    )
    await world.handler.handle(AddNote(conversation_id=mine, content="refund approved by Ben"), ANN)
    await world.handler.handle(
        UpdateConversation(conversation_id=mine, summary="Refund of a broken kettle"), ANN
    )
    theirs = await start(world, DAVE_CLIENT, (DAVE, "refund please"), summary="Refunds")
    await project(world)

    # Staff: both conversations' messages, the note, the summaries; stemmed words.
    staff = await find(world, "refund")
    assert sorted((h.conversation_id == mine, h.kind) for h in staff) == [
        (False, "conversation"), (False, "message"),
        (True, "conversation"), (True, "message"), (True, "message"), (True, "note"),
    ]  # fmt: skip
    # A client: its own conversation's messages and summary, never the note.
    assert {(h.conversation_id, h.kind) for h in await find(world, "refund", CAROL)} == {
        (mine, "conversation"),
        (mine, "message"),
    }
    assert {h.conversation_id for h in await find(world, "refund", DAVE)} == {theirs}
    # Misspelt names and partial ids find the conversation, ranked first.
    for typo in ("Carrol", "Danvres", "carol danvers", "c-1"):
        hits = await find(world, typo)
        assert (hits[0].kind, hits[0].conversation_id) == ("conversation", mine), typo
    assert await find(world, "Carrol", DAVE) == []
    # Snippets are escaped and marked.
    kettle = await find(world, "kettle")
    assert [h.snippet for h in kettle] == [
        "Carol Danvers · c-1 · Refund of a broken <mark>kettle</mark>"
    ]


async def test_filters_combine_as_in_the_inbox(world: World) -> None:
    mine = await start(world, CAROL_CLIENT, (CAROL, "parcel lost"))
    theirs = await start(world, DAVE_CLIENT, (DAVE, "parcel late"))
    closed = await start(world, DAVE_CLIENT, (DAVE, "parcel found"))
    assign = AssignConversation(conversation_id=mine, agent_id="ann", team_id="support")
    await world.handler.handle(assign, ANN)
    await world.handler.handle(AssignConversation(conversation_id=closed, agent_id="ann"), ANN)
    await world.handler.handle(ChangeStatus(conversation_id=closed, status=Status.CLOSED), ANN)
    await project(world)

    async def ids(**filters: str) -> set[UUID]:
        return {
            h.conversation_id for h in await find(world, "parcel", filters=InboxFilter(**filters))
        }

    assert await ids() == {mine, theirs, closed}
    assert await ids(assignee_id="ann") == {mine, closed}
    assert await ids(assignee_id="ann", status="closed") == {closed}
    assert await ids(assignee_id="ann", team_id="support") == {mine}
    assert await ids(assignee_id="unassigned") == {theirs}
    assert await ids(assignee_id="unassigned", status="closed") == set()


async def test_a_merged_in_copy_is_found_once_on_the_target(world: World) -> None:
    target = await start(world, CAROL_CLIENT, (CAROL, "first conversation"))
    source = await start(world, CAROL_CLIENT, (CAROL, "my toaster smokes"))
    await world.handler.handle(AddNote(conversation_id=source, content="toaster recall?"), ANN)
    # Step one only: the original is still found, under the source.
    known = MergeTarget(client_id="c-1", status=Status.ACTIVE)
    step_one = MergeConversation(conversation_id=source, into=target, target=known)
    await world.handler.handle(step_one, ANN)
    await project(world)
    assert [(h.kind, h.conversation_id) for h in await find(world, "toaster smokes")] == [
        ("message", source)
    ]
    # The copies land: the message is found once, on the target; the
    # source's note stays with the source, which says where it went.
    await MergeService(world.handler, world.store, world.pool).complete(source)
    await project(world)
    hits = await find(world, "toaster")
    assert sorted((h.kind, h.conversation_id, h.merged_into) for h in hits) == sorted(
        [("message", target, None), ("note", source, target)]
    )


async def test_pages_cover_every_hit_once_across_ranking_windows(world: World) -> None:
    for n in range(6):
        lines = [(CAROL, "lamp " * (1 + (n + i) % 4) + f"number {i}") for i in range(n + 1)]
        await start(world, CAROL_CLIENT, *lines)
    await project(world)
    everything = await find(world, "lamp")
    assert len(everything) == sum(n + 1 for n in range(6))
    # Within one window (all of them here) the ranking is by rank, newest first.
    assert [(h.rank, h.position) for h in everything] == sorted(
        ((h.rank, h.position) for h in everything), reverse=True
    )
    for window, limit in ((4, 3), (5, 5), (7, 1), (3, 10)):
        walked = await find(world, "lamp", limit=limit, window=window)
        assert sorted(h.id for h in walked) == sorted(h.id for h in everything)
        assert len({h.id for h in walked}) == len(walked)
        # The walk is the windows in turn, newest first; each ranked.
        windows = [walked[i : i + window] for i in range(0, len(walked), window)]
        for newer, older in itertools.pairwise(windows):
            assert min(h.position for h in newer) > max(h.position for h in older)
        for ranked in windows:
            keys = [(h.rank, h.position) for h in ranked]
            assert keys == sorted(keys, reverse=True)


async def test_a_rebuild_equals_the_incremental_table(world: World) -> None:
    await test_a_merged_in_copy_is_found_once_on_the_target(world)
    await start(world, DAVE_CLIENT, (DAVE, "hello"), summary="greeting")
    await project(world)
    snapshot = "SELECT * FROM search_documents d ORDER BY d::text"
    before = await world.pool.fetch(snapshot)
    assert await rebuild(world.pool, world.store, SearchProjection()) == (
        await world.store.head_position()
    )
    assert await world.pool.fetch(snapshot) == before
    # The rebuilt table keeps the text's statistics target (a rare word's plan needs it).
    target = "SELECT attstattarget FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2"
    assert await world.pool.fetchval(target, "search_documents", "tsv") == 10_000


SEED = """
INSERT INTO conversations (conversation_id, client_id, client_name, channel, priority, status,
                           created_at, last_update, position, assignee_id)
SELECT md5('c' || i)::uuid, 'id-' || i, first || ' ' || last || ' ' || substr(md5('n' || i), 1, 4),
       'web', 'Low', 'active', now(), now(), 1000 + i * 11,
       CASE WHEN i % 10 = 0 THEN 'agent-' || i % 50 END
FROM generate_series(1, 20000) i,
     LATERAL (SELECT (ARRAY['John', 'Maria', 'Ahmed', 'Yuki', 'Olga', 'Chen', 'Liam'])[1 + i % 7],
                     (ARRAY['Smith', 'Garcia', 'Khan', 'Tanaka', 'Novak', 'Wang', 'Murphy',
                            'Okafor', 'Dubois', 'Lister', 'Haas'])[1 + (i / 7) % 11])
             AS n(first, last);
INSERT INTO search_documents (kind, doc_id, conversation_id, client_id, position, created_at,
                              client_name, body)
SELECT 'conversation', conversation_id, conversation_id, client_id, position, now(), client_name, ''
FROM conversations WHERE position > 1000;
INSERT INTO search_documents (kind, doc_id, conversation_id, client_id, position, created_at, body)
SELECT 'message', md5('m' || i || '-' || j)::uuid, md5('c' || i)::uuid, 'id-' || i,
       1000 + i * 11 + j, now(),
       'my order ' || CASE WHEN (i + j) % 5000 = 0 THEN 'xylophone ' ELSE '' END
       || md5('w' || i * j)
FROM generate_series(1, 20000) i, generate_series(1, 3) j;
ANALYZE conversations;
ANALYZE search_documents;
"""
"""20,000 conversations (names of a few common words), 60,000 messages: every
one says "order", two in ten thousand "xylophone"."""


async def plan(world: World, sql: str, args: list[object], settings: str) -> str:
    """The plan of ``sql`` prepared, under ``settings`` (and ``args`` bound)."""
    async with world.pool.acquire() as conn, conn.transaction():
        await conn.execute(settings)
        statement = await conn.prepare(f"EXPLAIN {sql}")
        return "\n".join(r[0] for r in await statement.fetch(*args))


async def test_the_inbox_q_and_search_use_the_search_indexes_even_under_generic_plans(
    world: World,
) -> None:
    await world.pool.execute(SEED)
    generic = "SET LOCAL plan_cache_mode = force_generic_plan"
    # The inbox's q: the names' trigram index, whatever the plan.
    inbox = await list_conversations(
        world.pool, InboxFilter(q="tanaka 1"), viewer=None, sort=Sort.LAST_MESSAGE, limit=5
    )
    assert inbox.items and all("Tanaka 1" in c.client_name for c in inbox.items)
    named = (
        "SELECT conversation_id FROM search_documents s WHERE s.kind = 'conversation'"
        " AND s.client_name ILIKE '%' || $1::text || '%'"
    )
    assert "search_documents_names" in await plan(world, named, ["tanaka 1"], generic)

    # Search is planned for its words (SEARCH_SETTINGS), even in a session of
    # generic plans: a rare word through the text index, a common one
    # newest first, a misspelt name through the names' index, a client
    # through its own documents.
    async def search_plan(q: str, actor: Actor = ANN) -> str:
        request = SearchRequest(q=q, scope=search_scope(actor), filters=InboxFilter(), digest="")
        sql, args = search_statement(request, top=2**63 - 1, window=500, after=None, size=51)
        return await plan(world, sql, args, f"{generic}; {SEARCH_SETTINGS}")

    assert "search_documents_text" in await search_plan("xylophone")
    assert "Index Scan Backward using search_documents_by_position" in await search_plan("order")
    misspelt = await search_plan("Ahmmed Tanka")
    assert "search_documents_names" in misspelt and "Seq Scan on search_documents" not in misspelt
    assert "search_documents_by_client" in await search_plan("order", CAROL)
    # The search finds the misspelt name.
    hits = await find(world, "Ahmmed Tanka", limit=5)
    assert hits and all(h.client_name.startswith("Ahmed Tanaka") for h in hits)
