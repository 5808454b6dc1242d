"""Attachments over real HTTP: uploads checked by their bytes and refused
with nothing stored, images checked and given a thumbnail by the worker,
files fetched through short-lived signed URLs by those who may see the
conversation only, and messages that reference an upload."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from PIL import Image

from commands.signed_urls import signature, signing_key
from tests.attachment_samples import (
    BIG_PNG,
    ELF,
    PDF,
    PNG,
    TEXT,
    damaged_png,
    multipart,
    truncated,
)
from tests.conftest import MakeDatabase
from tests.e2e.attachment_server import MAX_BYTES, Served, attachment_server, eventually, upload
from tests.e2e.conftest import SECRET, Tokens


@pytest.fixture(scope="module")
async def served(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Served]:
    database_url = await make_database()
    data_dir = tmp_path_factory.mktemp("parley-data")
    async with attachment_server(database_url, nats_url, f"{nats_prefix}att", data_dir) as s:
        yield s


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        yield client


def stored(served: Served) -> set[str]:
    """Every file in the blob folder, temporary ones included."""
    root = served.data_dir / "blobs"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def start(api: httpx.AsyncClient, tokens: Tokens, client_id: str = "c-1") -> str:
    response = await api.post(
        "/api/conversations",
        json={"client": {"id": client_id, "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def fetch(
    api: httpx.AsyncClient, headers: dict[str, str], aid: str, variant: str = "content"
) -> httpx.Response:
    path = f"/api/attachments/{aid}/url"
    signed = await api.get(path, params={"variant": variant}, headers=headers)
    assert signed.status_code == 200, signed.text
    return await api.get(signed.json()["url"])  # no token: the URL is the permission


# -- uploads that are accepted -------------------------------------------------------


async def test_a_png_is_stored_checked_and_given_a_thumbnail_off_the_request_path(
    api: httpx.AsyncClient, tokens: Tokens, served: Served
) -> None:
    cid = await start(api, tokens)

    response = await upload(api, tokens.client, cid, BIG_PNG, filename="../parcel photo.png")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mime_type"] == "image/png" and body["size"] == len(BIG_PNG)
    assert body["name"] == "parcel photo.png" and body["conversation_id"] == cid
    assert body["status"] == "checking" and body["position"] >= 1
    aid = body["attachment_id"]
    assert hashlib.sha256(BIG_PNG).hexdigest() in {Path(p).name for p in stored(served)}

    async def checked() -> dict[str, Any] | None:
        seen = await api.get(f"/api/attachments/{aid}", headers=tokens.client)
        return dict(seen.json()) if seen.json()["status"] != "checking" else None

    described = await eventually(checked, what="the image checker")
    assert (described["status"], described["width"], described["height"]) == ("ready", 640, 480)
    assert described["thumbnail"] is True

    content = await fetch(api, tokens.client, aid)
    assert content.status_code == 200 and content.content == BIG_PNG
    assert content.headers["content-type"] == "image/png"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"].startswith("inline;")
    thumbnail = await fetch(api, tokens.admin, aid, "thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (320, 240)


@pytest.mark.parametrize(
    ("data", "mime", "disposition"),
    [(PDF, "application/pdf", "attachment"), (TEXT, "text/plain", "attachment")],
)
async def test_a_pdf_or_text_file_is_stored_and_served_as_a_download(
    api: httpx.AsyncClient, tokens: Tokens, data: bytes, mime: str, disposition: str
) -> None:
    cid = await start(api, tokens)

    response = await upload(
        api, tokens.admin, cid, data, filename="invoice", content_type="image/png"
    )

    assert response.status_code == 201, response.text
    assert (response.json()["mime_type"], response.json()["status"]) == (mime, "ready")
    content = await fetch(api, tokens.client, response.json()["attachment_id"])
    assert content.content == data
    assert content.headers["content-type"].startswith(mime)
    assert content.headers["content-disposition"].startswith(f"{disposition};")
    assert content.headers["content-security-policy"] == "default-src 'none'; sandbox"


# -- uploads that are refused, with nothing stored --------------------------------------


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (ELF, 415, "unsupported_media_type"),
        (truncated(BIG_PNG), 422, "corrupt_attachment"),
        (truncated(PDF, 0.5), 422, "corrupt_attachment"),
        (b"\x89PNG\r\n\x1a\n" + b"x" * MAX_BYTES, 413, "payload_too_large"),
        (b"x" * (2 * MAX_BYTES), 413, "payload_too_large"),
    ],
    ids=["renamed-executable", "truncated-image", "truncated-pdf", "over-size", "over-announced"],
)
async def test_a_refused_upload_stores_nothing_and_records_nothing(
    api: httpx.AsyncClient, tokens: Tokens, served: Served, data: bytes, status: int, code: str
) -> None:
    cid = await start(api, tokens)
    before = stored(served)

    response = await upload(
        api, tokens.client, cid, data, filename="photo.png", content_type="image/png"
    )

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert stored(served) == before


async def test_an_over_size_body_without_a_length_is_refused_as_it_streams(
    api: httpx.AsyncClient, tokens: Tokens, served: Served
) -> None:
    cid = await start(api, tokens)
    before = stored(served)
    boundary = "streamed-boundary"

    async def body() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse early
        disposition = 'Content-Disposition: form-data; name="file"; filename="a.txt"'
        yield f"--{boundary}\r\n{disposition}\r\n\r\n".encode()
        for _ in range(2 * MAX_BYTES // 4096):
            yield b"a" * 4096
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.post(
        "/api/attachments",
        params={"conversation_id": cid},
        content=body(),
        headers={**tokens.client, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert stored(served) == before


async def test_a_client_gone_midway_leaves_nothing_behind(
    api: httpx.AsyncClient, tokens: Tokens, served: Served
) -> None:
    cid = await start(api, tokens)
    before = stored(served)
    body, content_type = multipart(TEXT * 2000, filename="long.txt")
    host, port = served.url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /api/attachments?conversation_id={cid} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {tokens.client['Authorization']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body[: len(body) // 2])  # half of it, then gone
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async def nothing_left() -> bool:
        incoming = served.data_dir / "blobs" / ".incoming"
        return not incoming.exists() or not any(incoming.iterdir())

    await eventually(nothing_left, what="the upload's temporary file to go")
    assert stored(served) == before
    assert (await upload(api, tokens.client, cid, PDF)).status_code == 201  # still serving


async def test_an_image_that_does_not_decode_is_rejected_by_the_checker(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    response = await upload(api, tokens.client, cid, damaged_png(), filename="bad.png")
    assert response.status_code == 201, response.text  # whole, as far as its bytes show
    aid = response.json()["attachment_id"]

    async def rejected() -> dict[str, Any] | None:
        seen = (await api.get(f"/api/attachments/{aid}", headers=tokens.client)).json()
        return dict(seen) if seen["status"] == "rejected" else None

    described = await eventually(rejected, what="the image checker")
    assert "does not decode" in described["problem"]
    refused = await api.get(f"/api/attachments/{aid}/url", headers=tokens.client)
    assert (refused.status_code, refused.json()["code"]) == (422, "corrupt_attachment")


@pytest.mark.parametrize(
    ("params", "content_type", "code"),
    [
        ({}, "multipart/form-data; boundary=x", "invalid_request"),
        ({"conversation_id": "nope"}, "multipart/form-data; boundary=x", "invalid_request"),
        ("uuid", "application/json", "invalid_request"),
        ("uuid", "multipart/form-data", "invalid_request"),
        ("uuid", "multipart/form-data; boundary=x", "invalid_request"),
    ],
    ids=["no-conversation", "bad-conversation", "json", "no-boundary", "empty-body"],
)
async def test_a_malformed_upload_is_a_clear_400(
    api: httpx.AsyncClient, tokens: Tokens, params: Any, content_type: str, code: str
) -> None:
    if params == "uuid":
        params = {"conversation_id": await start(api, tokens)}
    headers = {**tokens.client, "Content-Type": content_type}
    response = await api.post("/api/attachments", params=params, content=b"", headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_uploads_need_a_token_and_a_conversation_of_ones_own(
    api: httpx.AsyncClient, tokens: Tokens, served: Served
) -> None:
    cid = await start(api, tokens, "c-1")
    before = stored(served)

    anonymous = await upload(api, {}, cid, PNG)
    someone_else = await upload(api, tokens.other_client, cid, PNG)
    nowhere = await upload(api, tokens.client, str(uuid.uuid4()), PNG)

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert (someone_else.status_code, someone_else.json()["code"]) == (403, "forbidden")
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "conversation_not_found")
    assert stored(served) == before


# -- downloads: only through signed URLs, only for those who may see -------------------


async def test_another_client_cannot_get_a_url_or_the_content_by_id(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens, "c-1")
    aid = (await upload(api, tokens.client, cid, PDF)).json()["attachment_id"]

    for path in (f"/api/attachments/{aid}", f"/api/attachments/{aid}/url"):
        refused = await api.get(path, headers=tokens.other_client)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    no_signature = await api.get(f"/api/attachments/{aid}/content", headers=tokens.other_client)
    assert no_signature.status_code == 400  # a token is no substitute for a signature
    unknown = await api.get(f"/api/attachments/{uuid.uuid4()}/url", headers=tokens.admin)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "attachment_not_found")


async def test_forged_and_expired_urls_are_refused(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens, "c-1")
    aid = (await upload(api, tokens.client, cid, PDF)).json()["attachment_id"]
    other = (await upload(api, tokens.client, cid, TEXT)).json()["attachment_id"]
    signed = (await api.get(f"/api/attachments/{aid}/url", headers=tokens.client)).json()
    expires = signed["url"].split("expires=")[1].split("&")[0]
    key = signing_key(SECRET)
    past = int(time.time()) - 1

    sig = signed["url"].split("sig=")[1]
    content, thumbnail = f"/api/attachments/{aid}/content", f"/api/attachments/{aid}/thumbnail"
    stranger = signature(signing_key("x" * 40), uuid.UUID(aid), "content", int(expires))
    cases = {
        "forged": (content, {"expires": expires, "sig": "A" * 43}),
        "another-file": (f"/api/attachments/{other}/content", {"expires": expires, "sig": sig}),
        "extended": (content, {"expires": str(int(expires) + 3600), "sig": sig}),
        "thumbnail": (thumbnail, {"expires": expires, "sig": sig}),
        "other-secret": (content, {"expires": expires, "sig": stranger}),
        "expired": (content, {"expires": past, "sig": signature(key, UUID(aid), "content", past)}),
    }
    answers = {}
    for name, (path, params) in cases.items():
        response = await api.get(path, params=params)
        answers[name] = (response.status_code, response.json()["code"])

    assert answers == {
        "forged": (403, "signature_invalid"),
        "another-file": (403, "signature_invalid"),
        "extended": (403, "signature_invalid"),
        "thumbnail": (403, "signature_invalid"),
        "other-secret": (403, "signature_invalid"),
        "expired": (403, "url_expired"),
    }
    assert (await api.get(signed["url"])).status_code == 200  # the real one works


# -- messages that reference an upload ------------------------------------------------


async def test_a_message_referencing_an_upload_shows_it(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens, "c-1")
    uploaded = await upload(api, tokens.client, cid, PDF, filename="invoice.pdf")
    aid = uploaded.json()["attachment_id"]

    sent = await api.post(
        "/api/messages",
        json={
            "conversation_id": cid,
            "content": "my invoice",
            "message_type": "file",
            "attachment": {"attachment_id": aid, "name": "evil.exe", "size": 1},
        },
        headers=tokens.client,
    )

    assert sent.status_code == 201, sent.text
    page = await api.get(
        "/api/messages",
        params={"conversation_id": cid, "min_position": sent.json()["position"]},
        headers=tokens.admin,
    )
    assert page.status_code == 200, page.text
    assert page.json()["items"][-1]["attachment"] == {
        "url": None,
        "attachment_id": aid,
        "name": "invoice.pdf",
        "mime_type": "application/pdf",
        "size": len(PDF),
    }


async def test_a_message_cannot_reference_another_conversations_upload(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    mine = await start(api, tokens, "c-2")
    theirs = await start(api, tokens, "c-1")
    aid = (await upload(api, tokens.client, theirs, PDF)).json()["attachment_id"]

    sent = await api.post(
        "/api/messages",
        json={
            "conversation_id": mine,
            "content": "look",
            "message_type": "file",
            "attachment": {"attachment_id": aid},
        },
        headers=tokens.other_client,
    )

    assert (sent.status_code, sent.json()["code"]) == (404, "attachment_not_found")
