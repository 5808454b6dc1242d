"""Private notes over real WebSockets: ADD_NOTE from staff sockets, live to
every staff socket, a NOTIFICATION to the mentioned agent's inbox, and
nothing of it — live, replayed or resumed — on the client's socket, whose
positions stay consistent around what it does not see."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from events.catalogue import NoteAdded
from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import next_frame, socket, start, token_for
from tests.e2e.wsframes import (
    STAFF_ONLY,
    answered,
    barrier,
    collect,
    first,
    of,
    register,
    send,
)


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(pool)
    yield store
    await store.close()


async def test_a_note_reaches_staff_live_and_the_mentioned_agent_but_never_the_client(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    anna, nina = await register(store, "Anna"), await register(store, "Nina")
    async with (
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
        socket(server_url, path, token_for(anna, "agent")) as staff,
        socket(server_url, "/ws/inbox", token_for(nina, "agent"), after_position="now") as ninas,
        socket(server_url, "/ws/inbox", token_for("ws-boss"), after_position="now") as boss,
    ):
        for ws in (client, staff, ninas, boss):
            await next_frame(ws, "READY")
        content = f"VIP customer: @{nina} please call them back"
        await send(staff, "ADD_NOTE", "n1", content=content)

        got = await collect(staff, answered("n1"), of("NOTE_ADDED"))
        ack, note = first(got, answered("n1")), first(got, of("NOTE_ADDED"))
        assert ack["type"] == "ACK" and ack["position"] == note["position"]
        assert (note["conversation_id"], note["stream_position"]) == (cid, 2)
        assert (note["author_id"], note["author_name"]) == (anna, "Anna")
        assert (note["content"], note["mentions"]) == (content, [nina])

        # The mentioned agent's inbox: the note, then its notification.
        got = await collect(ninas, of("NOTIFICATION"))
        assert [f["type"] for f in got if f["type"] in ("NOTE_ADDED", "NOTIFICATION")] == [
            "NOTE_ADDED",
            "NOTIFICATION",
        ]
        notification = got[-1]
        assert notification == {
            "type": "NOTIFICATION",
            "note_id": note["note_id"],
            "conversation_id": cid,
            "author_id": anna,
            "author_name": "Anna",
            "excerpt": content,
            "position": note["position"],
            "at": note["at"],
        }
        # Another staff inbox: the note, no notification.
        await collect(boss, of("NOTE_ADDED", note_id=note["note_id"]))
        assert "NOTIFICATION" not in {f["type"] for f in await barrier(boss)}

        # The client: its next message is the next position it sees, and
        # nothing came before it of the note.
        await send(client, "SEND_MESSAGE", "m1", content="any news?")
        got = await collect(client, of("MESSAGE_CREATED", content="any news?"), answered("m1"))
        assert not STAFF_ONLY & {f["type"] for f in got}
        assert first(got, of("MESSAGE_CREATED"))["stream_position"] == 3


async def test_a_resuming_client_skips_the_notes_and_its_positions_stay_consistent(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    carol = token_for("ws-carol", "client", "c-1")
    anna = await register(store, "Anna")
    async with socket(server_url, path, token_for(anna, "agent")) as staff:
        await next_frame(staff, "READY")
        for i, (kind, fields) in enumerate(
            [
                ("SEND_MESSAGE", {"content": "hello from staff"}),  # 2
                ("ADD_NOTE", {"content": "note one"}),  # 3
                ("ADD_NOTE", {"content": "note two"}),  # 4
                ("SEND_MESSAGE", {"content": "second from staff"}),  # 5
                ("ADD_NOTE", {"content": "note three, the last"}),  # 6
            ]
        ):
            await send(staff, kind, f"s{i}", **fields)
            assert (
                first(await collect(staff, answered(f"s{i}")), answered(f"s{i}"))["type"] == "ACK"
            )

    # From the start, and from every position: the visible events only, then
    # READY at the head (a note's position: the client resumes from it).
    for after, expected in [(0, [1, 2, 5]), (1, [2, 5]), (2, [5]), (3, [5]), (5, []), (6, [])]:
        async with socket(server_url, path, carol, after=after) as client:
            got = await collect(client, of("READY"))
        assert not STAFF_ONLY & {f["type"] for f in got}
        assert [f["stream_position"] for f in got[:-1]] == expected, after
        assert got[-1]["stream_position"] == 6

    # Resumed at the head, the client's next event comes live at the next position.
    async with socket(server_url, path, carol, after=6) as client:
        await next_frame(client, "READY")
        await send(client, "SEND_MESSAGE", "c1", content="thanks")
        got = await collect(client, of("MESSAGE_CREATED", content="thanks"))
        assert not STAFF_ONLY & {f["type"] for f in got}
        assert got[-1]["stream_position"] == 7

    # Staff replay everything, and the mentioned agent's inbox replays its notifications.
    async with socket(server_url, path, token_for(anna, "agent"), after=1) as again:
        got = await collect(again, of("READY"))
    assert [f["type"] for f in got[:-1]].count("NOTE_ADDED") == 3


async def test_a_mentioned_agents_inbox_replays_its_notifications_on_resume(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    nina = await register(store, "Nina")
    async with socket(
        server_url, "/ws/inbox", token_for(nina, "agent"), after_position="now"
    ) as ws:
        start_at = (await next_frame(ws, "READY"))["position"]
    async with socket(server_url, f"/ws/{cid}", token_for("ws-author")) as staff:
        await next_frame(staff, "READY")
        await send(staff, "ADD_NOTE", "n1", content="for you", mentions=[nina])
        await send(staff, "ADD_NOTE", "n2", content="not for you")
        await collect(staff, answered("n1"), answered("n2"))

    async with socket(
        server_url, "/ws/inbox", token_for(nina, "agent"), after_position=start_at
    ) as ws:
        got = await collect(ws, of("READY"))
    notes = [f for f in got if f["type"] == "NOTE_ADDED" and f["conversation_id"] == cid]
    notifications = [f for f in got if f["type"] == "NOTIFICATION"]
    assert [n["content"] for n in notes] == ["for you", "not for you"]
    assert [n["note_id"] for n in notifications] == [notes[0]["note_id"]]
    assert got.index(notifications[0]) == got.index(notes[0]) + 1


async def test_add_note_from_a_clients_socket_is_forbidden_and_the_socket_goes_on(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for("ws-carol", "client", "c-1")) as client:
        await next_frame(client, "READY")
        await send(client, "ADD_NOTE", "n1", content="let me in", mentions=["ghost"])
        refusal = first(await collect(client, answered("n1")), answered("n1"))
        assert (refusal["type"], refusal["code"]) == ("ERROR", "forbidden")
        # Forbidden first, whatever else is wrong with the frame.
        await send(client, "ADD_NOTE", "n2", content="x", conversation_id=str(uuid.uuid4()))
        refusal = first(await collect(client, answered("n2")), answered("n2"))
        assert (refusal["type"], refusal["code"]) == ("ERROR", "forbidden")
        await send(client, "SEND_MESSAGE", "m1", content="still here")
        ack = first(await collect(client, answered("m1")), answered("m1"))
        assert ack["type"] == "ACK" and ack["seq"] == 1
    stream = await store.read_stream(f"conversation-{cid}")
    assert not any(isinstance(event.data, NoteAdded) for event in stream)


async def test_add_note_on_the_inbox_names_its_conversation_and_real_agents(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid, other = await start(api, tokens), await start(api, tokens)
    nina = await register(store, "Nina")
    author = token_for("ws-inbox-author")
    async with (
        socket(server_url, "/ws/inbox", author, after_position="now") as inbox,
        socket(server_url, f"/ws/{cid}", token_for("ws-watcher", "agent")) as staff,
    ):
        for ws in (inbox, staff):
            await next_frame(ws, "READY")
        await send(inbox, "ADD_NOTE", "n1", content="which one?")
        await send(inbox, "ADD_NOTE", "n2", content="hi", conversation_id=cid, mentions=["ghost"])
        await send(inbox, "ADD_NOTE", "n3", content="hi", conversation_id=str(uuid.uuid4()))
        await send(inbox, "ADD_NOTE", "n4", content="on it", conversation_id=cid, mentions=[nina])
        got = await collect(inbox, *(answered(f"n{i}") for i in range(1, 5)))
        answers = {f["ref"]: f for f in got if answered(f.get("ref") or "")(f)}
        assert (answers["n1"]["code"], answers["n1"]["field"]) == (
            "invalid_command",
            "conversation_id",
        )
        assert (answers["n2"]["code"], answers["n2"]["field"]) == ("agent_not_found", "mentions")
        assert answers["n3"]["code"] == "conversation_not_found"
        assert answers["n4"]["type"] == "ACK"
        note = (await collect(staff, of("NOTE_ADDED")))[-1]
        assert (note["content"], note["mentions"], note["position"]) == (
            "on it",
            [nina],
            answers["n4"]["position"],
        )

    # A conversation socket's notes are for its conversation.
    async with socket(server_url, f"/ws/{cid}", author) as ws:
        await next_frame(ws, "READY")
        await send(ws, "ADD_NOTE", "x", content="elsewhere", conversation_id=other)
        refusal = first(await collect(ws, answered("x")), answered("x"))
        assert (refusal["code"], refusal["field"]) == ("invalid_command", "conversation_id")


async def test_mentions_by_name_and_a_retried_note_is_stored_once(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    suffix = uuid.uuid4().hex[:6]
    async with socket(server_url, "/ws/inbox", token_for("ws-lead"), after_position="now") as inbox:
        await next_frame(inbox, "READY")
        lena = await register(store, f"Lena {suffix}")
        # The node knows her once it has heard her register (as the inbox shows).
        await collect(inbox, of("STAFF_CHANGED", change="AgentRegistered", agent_id=lena))
        for ref in ("r1", "r2"):  # the same command_id twice: one note
            await send(
                inbox,
                "ADD_NOTE",
                ref,
                conversation_id=cid,
                content=f"@Lena{suffix} see above",
                command_id=f"note-{suffix}",
            )
        got = await collect(inbox, answered("r1"), answered("r2"))
    first_ack, retry = first(got, answered("r1")), first(got, answered("r2"))
    assert (first_ack["type"], retry["type"], retry["replayed"]) == ("ACK", "ACK", True)
    assert retry["position"] == first_ack["position"]
    notes = [e.data for e in await store.read_stream(f"conversation-{cid}")]
    notes = [n for n in notes if isinstance(n, NoteAdded)]
    assert len(notes) == 1 and notes[0].mentions == (lena,)
