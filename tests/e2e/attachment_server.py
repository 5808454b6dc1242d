"""A Parley server (uvicorn) and its workers over a database, NATS prefix and
data folder of their own, with a small attachment size limit, for the
attachment tests; and the helpers those tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import uvicorn

from blobs.port import BlobStore
from events.postgres.store import create_pool
from parley.app import create_app
from parley.attachment_settings import AttachmentSettings
from parley.settings import Settings
from parley.worker import run_workers
from tests.attachment_samples import multipart
from tests.conftest import TEST_MASTER_KEY
from tests.e2e.conftest import SECRET, free_port

MAX_BYTES = 256 * 1024
"""The attachment size limit of the test server (the default is 25 MiB)."""


@dataclass(frozen=True)
class Served:
    url: str
    blobs: BlobStore
    data_dir: Path
    database_url: str


@asynccontextmanager
async def attachment_server(
    database_url: str,
    nats_url: str,
    prefix: str,
    data_dir: Path,
    *,
    attachments: AttachmentSettings | None = None,
    blobs: BlobStore | None = None,
) -> AsyncIterator[Served]:
    port = free_port()
    config = attachments or AttachmentSettings(max_bytes=MAX_BYTES)
    settings = Settings(
        database_url=database_url,
        nats_url=nats_url,
        jwt_secret=SECRET,
        http_port=port,
        nats_prefix=prefix,
        data_dir=data_dir,
        master_key=TEST_MASTER_KEY,
        attachments=config,
    )
    pool = await create_pool(database_url, min_size=2, max_size=25)
    nc = await nats.connect(nats_url)
    from parley.blobs import open_blob_store

    store = blobs or open_blob_store(settings)
    app = create_app(settings, pool=pool, nats=nc, blobs=store)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    working = asyncio.create_task(run_workers(settings, pool, nc, stop))
    try:
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.02)
        yield Served(f"http://127.0.0.1:{port}", store, data_dir, database_url)
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(serving, working)
        await store.close()
        await nc.close()
        await pool.close()


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, what: str = "a condition"
) -> Any:
    """``check()``'s first truthy answer, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def upload(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    conversation_id: str,
    data: bytes,
    *,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    body, header = multipart(data, filename=filename, content_type=content_type)
    return await api.post(
        "/api/attachments",
        params={"conversation_id": conversation_id},
        content=body,
        headers={**headers, "Content-Type": header},
    )
