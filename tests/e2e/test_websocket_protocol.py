"""The edge keeps docs/PROTOCOL.md: hostile frames get an ERROR (never
1011) carrying their ref, where a socket may start, and what frames hold."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.e2e.conftest import Tokens
from tests.e2e.test_websocket import close_code, next_frame, socket, start, token_for


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (
            '{"type": "PING", "ref": "deep", "x": ' + "[" * 10_000 + "]" * 10_000 + "}",
            "invalid_frame",
        ),
        ('{"type": "SHOUT", "ref": "deep"}', "unknown_frame"),
        ('{"type": "MARK_READ", "up_to_seq": "x", "ref": "deep"}', "invalid_frame"),
        ('{"type": "MARK_READ", "up_to_seq": 1e400, "ref": "deep"}', "invalid_frame"),
    ],
    ids=["10,000 deep", "unknown", "wrong type", "out of range"],
)
async def test_a_bad_frame_gets_an_error_with_its_ref_and_the_socket_lives_on(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, raw: str, code: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for("ws-hostile")) as ws:
        await next_frame(ws, "READY")
        await ws.send(raw)
        error = await next_frame(ws, "ERROR")
        assert error["code"] == code
        # (A frame nested too deeply is not read further: its ref is not known.)
        assert error["ref"] == (None if raw.count("[") > 100 else "deep")
        await ws.send(json.dumps({"type": "PING", "ref": "still-there"}))
        assert (await next_frame(ws, "PONG"))["ref"] == "still-there"


async def test_a_path_that_is_not_a_conversation_id_is_closed_4404(server_url: str) -> None:
    async with socket(server_url, "/ws/not-a-uuid", token_for("ws-lost")) as ws:
        assert await close_code(ws) == 4404


async def test_the_inbox_opens_from_now_and_says_where_that_is(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    await start(api, tokens)
    async with socket(server_url, "/ws/inbox", token_for("ws-now"), after_position="now") as inbox:
        ready = await next_frame(inbox, "READY")  # no replay before it
        assert ready["conversation_id"] is None and ready["stream_position"] is None
        cid = await start(api, tokens)
        created = await next_frame(inbox, "CONVERSATION_UPDATED")
        assert (created["conversation_id"], created["position"]) == (cid, ready["position"] + 1)
    # Resuming from READY's position gets the same event again.
    path = "/ws/inbox"
    async with socket(
        server_url, path, token_for("ws-now"), after_position=ready["position"]
    ) as again:
        assert (await next_frame(again))["position"] == ready["position"] + 1


async def test_a_conversation_opens_from_now(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    await api.post(
        "/api/messages", json={"conversation_id": cid, "content": "old"}, headers=tokens.client
    )
    async with socket(server_url, f"/ws/{cid}", token_for("ws-now"), after="now") as ws:
        assert (await next_frame(ws))["type"] == "READY"  # first: nothing replayed


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/ws/inbox", {"after_position": 10**12}),
        ("/ws/inbox", {"after_position": "9" * 40}),
        ("/ws/inbox", {"after_position": "²"}),
        ("/ws/{cid}", {"after": 3}),
        ("/ws/{cid}", {"after": "-1"}),
    ],
    ids=["inbox beyond the head", "inbox huge", "inbox not ascii", "beyond the stream", "negative"],
)
async def test_a_start_beyond_the_head_or_not_a_position_is_closed_4400(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str, path: str, params: dict[str, object]
) -> None:
    cid = await start(api, tokens)  # its stream holds 1 event
    async with socket(server_url, path.format(cid=cid), token_for("ws-ahead"), **params) as ws:
        assert await close_code(ws) == 4400
        assert ws.close_reason


async def test_ack_and_message_created_carry_every_field(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    cid = await start(api, tokens)
    async with socket(server_url, f"/ws/{cid}", token_for(f"ws-full-{uuid.uuid4()}")) as ws:
        await next_frame(ws, "READY")
        await ws.send(json.dumps({"type": "SEND_MESSAGE", "content": "hi"}))
        got: dict[str, dict[str, object]] = {}
        while len(got) < 2:  # in either order
            frame = await next_frame(ws)
            if frame["type"] in ("ACK", "MESSAGE_CREATED"):
                got[frame["type"]] = frame
        ack, created = got["ACK"], got["MESSAGE_CREATED"]
    assert (ack["replayed"], ack["ref"], ack["client_message_id"]) == (False, None, None)
    assert (created["attachment"], created["client_message_id"]) == (None, None)
