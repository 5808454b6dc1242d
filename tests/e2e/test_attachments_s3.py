"""Attachments end to end on S3-compatible storage (moto's server mode,
tests/s3_server.py), set up by the settings alone (``PARLEY_BLOB_STORE=s3``):
the upload, the image checker's thumbnail and the downloads all go through
the bucket; and ``parley attachments purge`` removes a deleted
conversation's files but those another conversation uses."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.attachment_settings import AttachmentSettings
from tests.attachment_samples import BIG_PNG, PDF, TEXT, image
from tests.conftest import MASTER_KEY_ENV, MakeDatabase
from tests.e2e.attachment_server import MAX_BYTES, Served, attachment_server, eventually, upload
from tests.e2e.conftest import Tokens
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer, moto_server


@pytest.fixture(scope="module")
async def moto(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MotoServer]:
    async for server in moto_server(tmp_path_factory.mktemp("moto")):
        yield server


@pytest.fixture(scope="module")
async def bucket(moto: MotoServer) -> str:
    return await moto.new_bucket()


@pytest.fixture(scope="module")
def s3_settings(moto: MotoServer, bucket: str) -> AttachmentSettings:
    return AttachmentSettings(
        max_bytes=MAX_BYTES,
        blob_store="s3",
        s3_bucket=bucket,
        s3_endpoint_url=moto.url,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )


@pytest.fixture(scope="module")
async def served(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
    s3_settings: AttachmentSettings,
) -> AsyncIterator[Served]:
    database_url = await make_database()
    data_dir = tmp_path_factory.mktemp("parley-s3")
    prefix = f"{nats_prefix}s3"
    async with attachment_server(
        database_url, nats_url, prefix, data_dir, attachments=s3_settings
    ) as s:
        yield s


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        yield client


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    response = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def checked(api: httpx.AsyncClient, tokens: Tokens, aid: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        seen = (await api.get(f"/api/attachments/{aid}", headers=tokens.admin)).json()
        return dict(seen) if seen["status"] != "checking" else None

    result: dict[str, Any] = await eventually(done, what="the image checker")
    return result


async def download(
    api: httpx.AsyncClient, tokens: Tokens, aid: str, variant: str = "content"
) -> httpx.Response:
    path = f"/api/attachments/{aid}/url"
    signed = await api.get(path, params={"variant": variant}, headers=tokens.client)
    assert signed.status_code == 200, signed.text
    return await api.get(signed.json()["url"])


def key(data: bytes) -> str:
    return f"blobs/{hashlib.sha256(data).hexdigest()}"


async def test_an_image_goes_through_the_bucket_and_gets_its_thumbnail_there(
    api: httpx.AsyncClient, tokens: Tokens, moto: MotoServer, bucket: str
) -> None:
    cid = await start(api, tokens)

    response = await upload(api, tokens.client, cid, BIG_PNG, filename="photo.png")

    assert response.status_code == 201, response.text
    aid = response.json()["attachment_id"]
    assert key(BIG_PNG) in await moto.everything_in(bucket)
    assert (await checked(api, tokens, aid))["thumbnail"] is True
    assert (await download(api, tokens, aid)).content == BIG_PNG
    thumbnail = await download(api, tokens, aid, "thumbnail")
    assert key(thumbnail.content) in await moto.everything_in(bucket)


async def test_a_refused_upload_leaves_the_bucket_as_it_was(
    api: httpx.AsyncClient, tokens: Tokens, moto: MotoServer, bucket: str
) -> None:
    cid = await start(api, tokens)
    before = await moto.everything_in(bucket)

    response = await upload(api, tokens.client, cid, b"%PDF-" + b"x" * MAX_BYTES)

    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert await moto.everything_in(bucket) == before


def purge(
    served: Served, settings: AttachmentSettings, conversation_id: str
) -> subprocess.CompletedProcess[str]:
    """``parley attachments purge`` as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PARLEY_DATABASE_URL": served.database_url,
        "PARLEY_DATA_DIR": str(served.data_dir),
        "PARLEY_BLOB_STORE": "s3",
        **MASTER_KEY_ENV,
        "PARLEY_S3_BUCKET": settings.s3_bucket or "",
        "PARLEY_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "PARLEY_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "PARLEY_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    parley = Path(sys.executable).parent / "parley"
    return subprocess.run(
        [str(parley), "attachments", "purge", conversation_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_purging_a_deleted_conversation_removes_the_files_no_one_else_uses(
    api: httpx.AsyncClient,
    tokens: Tokens,
    served: Served,
    moto: MotoServer,
    bucket: str,
    s3_settings: AttachmentSettings,
) -> None:
    gone, kept = await start(api, tokens), await start(api, tokens)
    shared_here = (await upload(api, tokens.client, gone, PDF)).json()["attachment_id"]
    shared_there = (await upload(api, tokens.client, kept, PDF)).json()["attachment_id"]
    own_text = (await upload(api, tokens.client, gone, TEXT)).json()["attachment_id"]
    own_png = image("PNG", (300, 200))  # used here only
    photo = await upload(api, tokens.client, gone, own_png)
    photo_id = photo.json()["attachment_id"]
    await checked(api, tokens, photo_id)
    thumbnail = (await download(api, tokens, photo_id, "thumbnail")).content

    refused = await asyncio.to_thread(purge, served, s3_settings, gone)  # not deleted yet
    assert refused.returncode == 1 and "delete it" in refused.stderr
    deleted = await api.delete(f"/api/conversations/{gone}", headers=tokens.admin)
    assert deleted.status_code == 200, deleted.text
    done = await asyncio.to_thread(purge, served, s3_settings, gone)

    assert done.returncode == 0, done.stderr
    assert "3 file(s) removed, 1 kept" in done.stdout
    left = await moto.everything_in(bucket)
    assert key(PDF) in left
    assert not {key(TEXT), key(own_png), key(thumbnail)} & left
    for aid in (shared_here, shared_there):  # the same bytes, still used by the other
        assert (await download(api, tokens, aid)).content == PDF
    gone_answer = await download(api, tokens, own_text)
    assert (gone_answer.status_code, gone_answer.json()["code"]) == (410, "attachment_gone")
