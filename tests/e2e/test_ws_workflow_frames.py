"""Labels, snooze, merge and the catalogues over real WebSockets: each as a
frame to the sockets that may have it (labels: staff only; catalogue and
notification read marks: inbox sockets; status and merges: everyone on the
conversation). The commands run through a handler of their own on the
server's database, or are appended as the services will: the server hears
of them as of any append, through the relay and NATS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from commands.evolve import fold
from commands.handler import CommandHandler
from commands.merge import copies
from commands.model import (
    Actor,
    ConversationState,
    ImportMerged,
    LabelConversation,
    MergeConversation,
    MergeTarget,
    Role,
    SnoozeConversation,
    UnlabelConversation,
)
from events.catalogue import (
    AnyEvent,
    LabelCreated,
    LabelDeleted,
    MessageSent,
    NotificationsRead,
    Status,
)
from events.envelope import Metadata, NewEvent
from events.postgres.store import PostgresEventStore
from tests.conftest import keyed_store
from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import next_frame, socket, start, token_for
from tests.e2e.wsframes import STAFF_ONLY, answered, barrier, collect, first, of, register, send

ADMIN = Actor(id="ws-workflow-admin", role=Role.ADMIN)


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = keyed_store(pool)
    yield store
    await store.close()


async def append(store: PostgresEventStore, stream: str, data: AnyEvent) -> None:
    metadata = Metadata(actor_id=ADMIN.id, actor_role=ADMIN.role)
    await store.append(
        stream, [NewEvent(event_id=uuid.uuid4(), data=data, metadata=metadata)], None
    )


async def test_labels_reach_staff_sockets_live_and_never_the_client(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path, handler = f"/ws/{cid}", CommandHandler(store)
    async with (
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
        socket(server_url, path, token_for("ws-labeller", "agent")) as staff,
        socket(server_url, "/ws/inbox", token_for("ws-lab-inbox"), after_position="now") as inbox,
    ):
        for ws in (client, staff, inbox):
            await next_frame(ws, "READY")
        conversation = uuid.UUID(cid)
        await handler.handle(LabelConversation(conversation_id=conversation, label_id="vip"), ADMIN)
        await handler.handle(
            UnlabelConversation(conversation_id=conversation, label_id="vip"), ADMIN
        )
        for ws in (staff, inbox):
            got = await collect(ws, of("LABELLED"), of("UNLABELLED"))
            labelled, unlabelled = first(got, of("LABELLED")), first(got, of("UNLABELLED"))
            assert (labelled["label_id"], labelled["by"], labelled["stream_position"]) == (
                "vip",
                ADMIN.id,
                2,
            )
            assert unlabelled["stream_position"] == 3
        await send(client, "SEND_MESSAGE", "m1", content="hello?")
        got = await collect(client, of("MESSAGE_CREATED", content="hello?"))
        assert not STAFF_ONLY & {f["type"] for f in got}
        assert got[-1]["stream_position"] == 4


async def test_catalogue_changes_and_read_marks_reach_inbox_sockets_only(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    nina = await register(store, "Nina")
    label = f"l-{uuid.uuid4().hex[:8]}"
    async with (
        socket(server_url, "/ws/inbox", token_for(nina, "agent"), after_position="now") as ninas,
        socket(server_url, "/ws/inbox", token_for("ws-cat-boss"), after_position="now") as boss,
        socket(server_url, f"/ws/{cid}", token_for("ws-cat-staff", "agent")) as staff,
        socket(server_url, f"/ws/{cid}", token_for("ws-carol", "client", "c-1")) as client,
    ):
        for ws in (ninas, boss, staff, client):
            await next_frame(ws, "READY")
        await append(store, "labels", LabelCreated(label_id=label, name="VIP", colour="#ff0000"))
        await append(store, f"agent-{nina}", NotificationsRead(agent_id=nina, up_to_position=5))
        await append(store, "labels", LabelDeleted(label_id=label))

        got = await collect(ninas, of("CATALOGUE_CHANGED", change="LabelDeleted"))
        created = first(got, of("CATALOGUE_CHANGED", change="LabelCreated"))
        assert (created["label_id"], created["name"], created["colour"]) == (
            label,
            "VIP",
            "#ff0000",
        )
        read = first(got, of("NOTIFICATIONS_READ"))
        assert (read["agent_id"], read["up_to_position"], read["note_ids"]) == (nina, 5, [])
        # Another agent's inbox: the catalogue, not Nina's read marks (log order:
        # the deletion came after them).
        got = await collect(boss, of("CATALOGUE_CHANGED", change="LabelDeleted"))
        assert "NOTIFICATIONS_READ" not in {f["type"] for f in got}
        assert [f["change"] for f in got if f["type"] == "CATALOGUE_CHANGED"] == [
            "LabelCreated",
            "LabelDeleted",
        ]
        # Conversation sockets follow their conversation only.
        for ws in (staff, client):
            kinds = {f["type"] for f in await barrier(ws)}
            assert not kinds & {"CATALOGUE_CHANGED", "NOTIFICATIONS_READ"}


async def test_snoozing_is_a_status_change_and_the_clients_message_wakes_it(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    async with (
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
        socket(server_url, path, token_for("ws-snoozer", "agent")) as staff,
    ):
        for ws in (client, staff):
            await next_frame(ws, "READY")
        await CommandHandler(store).handle(
            SnoozeConversation(conversation_id=uuid.UUID(cid), until=until), ADMIN
        )
        for ws in (client, staff):
            snoozed = (await collect(ws, of("STATUS_CHANGED")))[-1]
            assert (snoozed["from"], snoozed["to"], snoozed["reason"]) == (
                "active",
                "snoozed",
                None,
            )
            # Staff learn until when; the client only that it is snoozed.
            seen_until = snoozed["until"] and datetime.fromisoformat(snoozed["until"])
            assert seen_until == (until if ws is staff else None)

        await send(client, "SEND_MESSAGE", "m1", content="are you there?")
        for ws in (client, staff):
            got = await collect(ws, of("MESSAGE_CREATED", content="are you there?"))
            woke = first(got, of("STATUS_CHANGED"))
            assert (woke["from"], woke["to"], woke["reason"], woke["until"]) == (
                "snoozed",
                "active",
                "client_message",
                None,
            )
            assert woke["stream_position"] + 1 == got[-1]["stream_position"]


async def test_a_merge_tells_the_sources_sockets_the_target_and_the_target_its_copies(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    source, target = await start(api, tokens), await start(api, tokens)
    handler = CommandHandler(store)
    carol = token_for("ws-carol", "client", "c-1")
    async with (
        socket(server_url, f"/ws/{source}", carol) as on_source,
        socket(server_url, f"/ws/{source}", token_for("ws-merger", "agent")) as staff_source,
        socket(server_url, f"/ws/{target}", carol) as on_target,
    ):
        for ws in (on_source, staff_source, on_target):
            await next_frame(ws, "READY")
        await send(on_source, "SEND_MESSAGE", "m1", content="first, on the source")
        await collect(on_source, answered("m1"))

        # The merge service's two steps: close the source, copy into the target.
        await handler.handle(
            MergeConversation(
                conversation_id=uuid.UUID(source),
                into=uuid.UUID(target),
                target=MergeTarget(client_id="c-1", status=Status.ACTIVE),
            ),
            ADMIN,
        )
        stream = await store.read_stream(f"conversation-{source}")
        sent = [(e.data, e.recorded_at) for e in stream if isinstance(e.data, MessageSent)]
        folded = fold(ConversationState(), (e.data for e in stream))
        await handler.handle(
            ImportMerged(
                conversation_id=uuid.UUID(target),
                source_id=uuid.UUID(source),
                messages=copies(folded, sent),
            ),
            ADMIN,
        )

        for ws in (on_source, staff_source):
            merged = (await collect(ws, of("MERGED")))[-1]
            assert (merged["into"], merged["up_to_seq"]) == (target, 1)
        got = await collect(on_target, of("MESSAGE_CREATED", content="first, on the source"))
        merged_in = first(got, of("MERGED_IN"))
        assert (merged_in["source_id"], merged_in["message_count"]) == (source, 1)
        copy = got[-1]
        assert copy["merged_from"]["conversation_id"] == source
        assert copy["merged_from"]["seq"] == 1
        assert copy["stream_position"] == merged_in["stream_position"] + 1

        # The source takes no new message: the refusal names the target.
        await send(on_source, "SEND_MESSAGE", "m2", content="too late")
        refusal = first(await collect(on_source, answered("m2")), answered("m2"))
        assert (refusal["code"], refusal["details"]["into"]) == ("conversation_merged", target)
