"""The WebSocket edge over real sockets (the `websockets` client library)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from commands.auth import issue_token
from parley.app import create_app
from parley.settings import Settings
from tests.conftest import TEST_MASTER_KEY
from tests.e2e.conftest import SECRET, Tokens, free_port
from tests.e2e.rawsocket import CLOSE, TEXT, RawSocket, close_status

Frame = dict[str, Any]


def token_for(sub: str, role: str = "admin", client_id: str | None = None, **ttl: float) -> str:
    return issue_token(
        SECRET,
        sub=sub,
        role=role,
        client_id=client_id,
        ttl=timedelta(**ttl) if ttl else timedelta(hours=1),
        now=datetime.now(UTC),
    )


def ws_url(server_url: str, path: str, token: str | None, **params: object) -> str:
    query = {**({"token": token} if token else {}), **params}
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{server_url.replace('http', 'ws', 1)}{path}?{qs}"


@asynccontextmanager
async def socket(
    server_url: str, path: str, token: str | None, **params: object
) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(server_url, path, token, **params)) as ws:
        yield ws


async def next_frame(ws: ClientConnection, kind: str | None = None, timeout: float = 10) -> Frame:
    """The next frame (of ``kind``, skipping others)."""
    async with asyncio.timeout(timeout):
        while True:
            frame: Frame = json.loads(await ws.recv())
            if kind is None or frame["type"] == kind:
                return frame


async def kinds_until_pong(ws: ClientConnection) -> list[str]:
    """PING, then the types of the frames that come before its PONG: all that
    was queued for the socket before (the server answers in order)."""
    ref = f"barrier-{uuid.uuid4()}"
    await ws.send(json.dumps({"type": "PING", "ref": ref}))
    kinds = []
    while (frame := await next_frame(ws)) != {"type": "PONG", "ref": ref}:
        kinds.append(frame["type"])
    return kinds


async def close_code(ws: ClientConnection, timeout: float = 10) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    response = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    assert response.status_code == 201
    return str(response.json()["conversation_id"])


async def test_a_message_from_one_socket_reaches_the_other_and_is_stored(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    async with (
        socket(server_url, path, token_for("ws-staff")) as staff,
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
    ):
        assert (await next_frame(staff, "READY"))["stream_position"] == 1
        await next_frame(client, "READY")

        await client.send(
            json.dumps(
                {
                    "type": "SEND_MESSAGE",
                    "content": "hi there",
                    "client_message_id": "w1",
                    "ref": "r1",
                }
            )
        )

        ack = await next_frame(client, "ACK")
        created = await next_frame(staff, "MESSAGE_CREATED")
        assert (ack["ref"], ack["client_message_id"], ack["seq"]) == ("r1", "w1", 1)
        assert created["message_id"] == ack["message_id"]
        assert created["content"] == "hi there" and created["sender"] == "client"
        assert created["position"] == ack["position"] and created["stream_position"] == 2
    page = await api.get(
        "/api/messages",
        params={"conversation_id": cid, "min_position": ack["position"]},
        headers=tokens.admin,
    )
    assert [m["message_id"] for m in page.json()["items"]] == [ack["message_id"]]


async def test_resume_gets_exactly_what_was_missed_then_live_events(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for("ws-resumer")) as ws:
        seen = (await next_frame(ws, "READY"))["stream_position"]

    async def send(i: int) -> None:
        response = await api.post(
            "/api/messages",
            json={"conversation_id": cid, "content": f"m{i}"},
            headers=tokens.client,
        )
        assert response.status_code == 201

    for i in range(200):
        await send(i)
    async with socket(server_url, f"/ws/{cid}", token_for("ws-resumer"), after=seen) as ws:
        # More messages race the replay.
        # Those committed before the socket subscribed come in the replay,
        # before READY; the rest come live after it.
        racing = asyncio.gather(*(send(200 + i) for i in range(20)))
        frames = [await next_frame(ws)]
        while frames[-1]["type"] != "READY":
            assert len(frames) <= 221, "no READY after the whole stream"
            frames.append(await next_frame(ws))
        await racing
        events = [f for f in frames if f["type"] == "MESSAGE_CREATED"]
        assert len(events) >= 200  # the missed ones are never held back
        while len(events) < 220:
            events.append(await next_frame(ws, "MESSAGE_CREATED"))
        assert [e["seq"] for e in events] == list(range(1, 221))
        assert [e["stream_position"] for e in events] == list(range(2, 222))
        assert "MESSAGE_CREATED" not in await kinds_until_pong(ws)  # and nothing twice


async def test_sockets_opening_together_while_messages_arrive_each_get_every_event_once(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    """Sockets opening at once on a conversation share their replay's read
    (ws_edge/shared_reads.py): whatever the timing, each gets the stream
    1..n in order, nothing twice, nothing missing."""
    cid = await start(api, tokens)

    async def send(i: int) -> None:
        response = await api.post(
            "/api/messages",
            json={"conversation_id": cid, "content": f"s{i}"},
            headers=tokens.client,
        )
        assert response.status_code == 201

    async def watch(k: int, total: int) -> list[int]:
        async with socket(server_url, f"/ws/{cid}", token_for(f"ws-storm-{k}")) as ws:
            positions = []
            while len(positions) < total:
                frame = await next_frame(ws, timeout=30)
                if "stream_position" in frame and frame["type"] != "READY":
                    positions.append(frame["stream_position"])
            assert "MESSAGE_CREATED" not in await kinds_until_pong(ws)  # and nothing twice
            return positions

    total = 1 + 60  # the start and the messages
    sending = asyncio.gather(*(send(i) for i in range(60)))
    watched = await asyncio.gather(*(watch(k, total) for k in range(40)))
    await sending
    for positions in watched:
        assert positions == list(range(1, total + 1))


@pytest.mark.parametrize(
    ("who", "code"),
    [
        (None, 4401),
        ("garbage", 4401),
        ("expired", 4401),
        ("other-client", 4403),
    ],
)
async def test_refused_connections_get_a_close_code(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, who: str | None, code: int
) -> None:
    cid = await start(api, tokens)
    token = {
        None: None,
        "garbage": "not-a-token",
        "expired": issue_token(
            SECRET,
            sub="x",
            role="admin",
            ttl=timedelta(minutes=1),
            now=datetime.now(UTC) - timedelta(hours=1),
        ),
        "other-client": token_for("mallory", "client", "c-2"),
    }[who]
    async with socket(server_url, f"/ws/{cid}", token) as ws:
        assert await close_code(ws) == code


async def test_an_unknown_conversation_is_4404_and_the_inbox_is_staff_only(server_url: str) -> None:
    async with socket(server_url, f"/ws/{uuid.uuid4()}", token_for("ws-staff")) as ws:
        assert await close_code(ws) == 4404
    async with socket(server_url, "/ws/inbox", token_for("c", "client", "c-1")) as ws:
        assert await close_code(ws) == 4403


async def test_the_token_may_come_in_the_subprotocol_header(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    url = ws_url(server_url, f"/ws/{cid}", None)
    protocols = ["parley.v1", f"bearer.{token_for('ws-proto')}"]
    async with connect(url, subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "parley.v1"
        assert (await next_frame(ws, "READY"))["stream_position"] == 1


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "malformed_json"),
        ('{"type": "SHOUT"}', "unknown_frame"),
        ('{"type": "SEND_MESSAGE"}', "invalid_frame"),
        ('{"type": "SEND_MESSAGE", "content": "   "}', "invalid_frame"),
        ('{"type": "MARK_READ", "up_to_seq": "x"}', "invalid_frame"),
        (b"\x00\x01binary", "binary_not_supported"),
        ('{"type": "PING", "pad": "' + "x" * 70_000 + '"}', "frame_too_large"),
    ],
    ids=["malformed", "unknown", "missing", "blank", "wrong type", "binary", "too large"],
)
async def test_bad_frames_get_an_error_and_the_socket_keeps_working(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, raw: str | bytes, code: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for("ws-bad")) as ws:
        await next_frame(ws, "READY")
        await ws.send(raw)
        error = await next_frame(ws, "ERROR")
        assert error["code"] == code
        await ws.send(json.dumps({"type": "PING", "ref": "still-there"}))
        assert (await next_frame(ws, "PONG"))["ref"] == "still-there"


async def test_commands_over_the_socket_keep_the_rules(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.admin
    )
    async with socket(server_url, f"/ws/{cid}", token_for("ws-rules")) as ws:
        await next_frame(ws, "READY")
        await ws.send(json.dumps({"type": "SEND_MESSAGE", "content": "closed?", "ref": "x"}))
        error = await next_frame(ws, "ERROR")
        assert (error["code"], error["ref"]) == ("conversation_closed", "x")


async def test_the_101st_message_in_a_minute_is_rate_limited_and_not_stored(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for(f"ws-spammer-{uuid.uuid4()}")) as ws:
        await next_frame(ws, "READY")
        for i in range(101):
            await ws.send(json.dumps({"type": "SEND_MESSAGE", "content": f"m{i}", "ref": str(i)}))
        acks: list[Frame] = []
        errors: list[Frame] = []
        while len(acks) + len(errors) < 101:  # (MESSAGE_CREATED echoes come too)
            frame = await next_frame(ws)
            {"ACK": acks, "ERROR": errors}.get(frame["type"], []).append(frame)
        assert len(acks) == 100
        assert [(e["code"], e["ref"]) for e in errors] == [("rate_limited", "100")]
        assert 0 < errors[0]["retry_after"] <= 60
    page = await api.get(
        "/api/messages",
        params={"conversation_id": cid, "limit": 100, "min_position": acks[-1]["position"]},
        headers=tokens.admin,
    )
    assert page.json()["items"][0]["seq"] == 1 and page.json()["next_before"] is None
    assert len(page.json()["items"]) == 100


async def test_typing_reaches_the_others_not_the_typist_and_ends_when_the_typist_leaves(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    path = f"/ws/{cid}"
    async with socket(server_url, path, token_for("ws-watcher")) as watcher:
        await next_frame(watcher, "READY")
        async with socket(server_url, path, token_for(f"ws-typist-{uuid.uuid4()}")) as typist:
            await next_frame(typist, "READY")
            await typist.send(json.dumps({"type": "TYPING_START"}))
            started = await next_frame(watcher, "TYPING")
            assert started["state"] == "started"
            await typist.send(json.dumps({"type": "TYPING_STOP"}))
            assert (await next_frame(watcher, "TYPING"))["state"] == "stopped"
            # Never echoed to the typist: the watcher got it, so the typist's
            # socket would have had it queued before the PONG.
            assert "TYPING" not in await kinds_until_pong(typist)
            await typist.send(json.dumps({"type": "TYPING_START"}))
            assert (await next_frame(watcher, "TYPING"))["state"] == "started"
        # The typist's socket closed while typing: the indicator ends.
        assert (await next_frame(watcher, "TYPING", timeout=5))["state"] == "stopped"


async def test_the_11th_typing_start_in_a_minute_is_rate_limited_stops_never_count(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for(f"ws-fidget-{uuid.uuid4()}")) as ws:
        await next_frame(ws, "READY")
        for i in range(10):  # 10 starts (the limit), each stopped: STOPs are free
            await ws.send(json.dumps({"type": "TYPING_START", "ref": f"s{i}"}))
            await ws.send(json.dumps({"type": "TYPING_STOP", "ref": f"t{i}"}))
        await ws.send(json.dumps({"type": "TYPING_START", "ref": "eleventh"}))
        error = await next_frame(ws, "ERROR")
        assert (error["code"], error["ref"]) == ("rate_limited", "eleventh")
        assert 0 < error["retry_after"] <= 60
        await ws.send(json.dumps({"type": "PING", "ref": "alive"}))
        assert (await next_frame(ws, "PONG"))["ref"] == "alive"


async def test_the_inbox_hears_every_conversation_and_mark_read(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    head = (await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )).json()["position"]  # fmt: skip
    async with socket(server_url, "/ws/inbox", token_for("ws-inbox"), after_position=head) as inbox:
        assert (await next_frame(inbox, "READY"))["position"] >= head
        cid = await start(api, tokens)
        created = await next_frame(inbox, "CONVERSATION_UPDATED")
        assert (created["conversation_id"], created["change"]) == (cid, "started")
        await api.post(
            "/api/messages",
            json={"conversation_id": cid, "content": "hello"},
            headers=tokens.client,
        )
        assert (await next_frame(inbox, "MESSAGE_CREATED"))["conversation_id"] == cid
        row = await next_frame(inbox, "CONVERSATION_ROW")
        assert row["conversation"]["unread_for_staff"] == 1
        await api.post(f"/api/conversations/{cid}/mark-read", headers=tokens.admin)
        read = await next_frame(inbox, "MESSAGES_READ")
        assert (read["conversation_id"], read["reader"], read["up_to_seq"]) == (cid, "admin", 1)
        row = await next_frame(inbox, "CONVERSATION_ROW")
        # The row is the socket's staff member's: alice read it, ws-inbox did not.
        as_socket = {"Authorization": f"Bearer {token_for('ws-inbox')}"}
        model = await api.get(f"/api/conversations/{cid}", headers=as_socket)
        assert row["conversation"] == model.json()
        assert row["conversation"]["unread_for_staff"] == 0
        assert row["conversation"]["my_unread"] == 1
        # The row says how far the stream has got: subscribe after it for what is newer.
        assert row["conversation"]["version"] == read["stream_position"] == 3


async def test_mark_read_by_staff_reaches_the_client_socket(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    await api.post(
        "/api/messages", json={"conversation_id": cid, "content": "read me"}, headers=tokens.client
    )
    path = f"/ws/{cid}"
    async with (
        socket(server_url, path, token_for("ws-reader")) as staff,
        socket(server_url, path, token_for("ws-carol", "client", "c-1")) as client,
    ):
        await next_frame(staff, "READY")
        await next_frame(client, "READY")
        await staff.send(json.dumps({"type": "MARK_READ", "up_to_seq": 1, "ref": "mr"}))
        ack = await next_frame(staff, "ACK")
        read = await next_frame(client, "MESSAGES_READ")
        assert (ack["ref"], read["reader"], read["up_to_seq"]) == ("mr", "admin", 1)
        assert read["position"] == ack["position"]


async def test_a_token_that_expires_while_connected_closes_the_socket_4401(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for("short-lived", seconds=2)) as ws:
        await next_frame(ws, "READY")
        assert await close_code(ws, timeout=10) == 4401


@pytest.fixture(scope="module")
async def pinging_node(
    server_url: str, pool: asyncpg.Pool, database_url: str, nats_url: str, nats_prefix: str
) -> AsyncIterator[str]:
    """A second edge node beside ``server_url`` (same database and NATS, its
    workers) whose uvicorn sends a protocol PING every 0.2 s and never cuts a
    peer that does not answer: raw clients meet pings for sure, and a stalled
    one is not cut by uvicorn however long the machine takes."""
    port = free_port()
    settings = Settings(
        database_url=database_url,
        nats_url=nats_url,
        jwt_secret=SECRET,
        master_key=TEST_MASTER_KEY,
        http_port=port,
        nats_prefix=nats_prefix,
    )
    nc = await nats.connect(nats_url)
    app = create_app(settings, pool=pool, nats=nc)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_ping_interval=0.2,
        ws_ping_timeout=None,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
    await nc.close()


async def test_a_socket_that_stops_reading_is_closed_4000_and_never_holds_up_the_others(
    api: httpx.AsyncClient, tokens: Tokens, pinging_node: str
) -> None:
    # The stalled client's frames (4 KiB each) fill the server's socket buffer
    # (Linux lets it grow to tcp_wmem's maximum), then the transport's, then
    # its mailbox (1,000 frames), which overflows. Meanwhile the other socket
    # of the conversation gets every message as it goes. Once the stalled
    # client reads again it gets what was sent to it, in order, then close
    # 4000, or just the end of the connection if it took longer than the
    # close timeout (5 s) to read again; either way it resumes.
    cid = await start(api, tokens)
    kernel_frames = most_socket_send_buffer() // 4000
    path, total = f"/ws/{cid}", kernel_frames + 1000 + 600
    server_url = pinging_node  # the HTTP commands go to the first node: events cross NATS
    stalled = RawSocket(server_url, path, token_for("ws-stalled"))
    await stalled.open(receive_buffer=4096)
    try:
        async with socket(server_url, path, token_for("ws-reader")) as reader:
            await next_frame(reader, "READY")
            lock = asyncio.Semaphore(20)

            async def send(i: int) -> None:
                async with lock:
                    response = await api.post(
                        "/api/messages",
                        json={"conversation_id": cid, "content": f"{i:05d} " + "x" * 3900},
                        headers=tokens.client,
                    )
                assert response.status_code == 201

            async def read_all() -> list[int]:
                # A live client: it answers HEARTBEATs (on a loaded machine the
                # messages take longer than two heartbeats to arrive).
                seqs: list[int] = []
                while len(seqs) < total:
                    frame = await next_frame(reader)
                    if frame["type"] == "HEARTBEAT":
                        await reader.send(json.dumps({"type": "PING"}))
                    elif frame["type"] == "MESSAGE_CREATED":
                        seqs.append(frame["seq"])
                return seqs

            reading = asyncio.create_task(read_all())
            await asyncio.gather(*(send(i) for i in range(total)))
            assert await asyncio.wait_for(reading, 60) == list(range(1, total + 1))

        positions, closed_with = [], None
        # (Pings from uvicorn come in between: skipped, never parsed as JSON.)
        async for opcode, payload in stalled.messages(timeout=60, answer_pings=False):
            if opcode == CLOSE:
                closed_with = close_status(payload)
                break
            assert opcode == TEXT, (opcode, payload)
            frame = json.loads(payload)
            if frame["type"] == "MESSAGE_CREATED":
                positions.append(frame["stream_position"])
    finally:
        stalled.close()

    assert closed_with in (4000, None)  # None: the connection ended without a close frame
    assert stalled.pings_seen > 0  # uvicorn's pings came between the frames
    assert positions == list(range(2, 2 + len(positions))) and len(positions) < total


def most_socket_send_buffer() -> int:
    """How large Linux lets a TCP socket's send buffer grow (4 MiB by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024
