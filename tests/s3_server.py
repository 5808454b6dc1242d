"""An S3-compatible server for the S3 adapter's tests: moto in server mode
(``moto_server`` from the ``moto[server]`` wheel), the most faithful
S3-compatible server that installs from the package registries here (no
MinIO server ships in PyPI, npm or Debian). It runs in a session of its own
on a free port, and every wait on it is bounded."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session

from blobs.s3 import S3BlobStore
from parley.embedded import free_port
from tests.processes import START_TIMEOUT, Process, _answers

ACCESS_KEY = "parley-test"
SECRET_KEY = "parley-test-secret"
REGION = "us-east-1"


class MotoServer(Process):
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        executable = Path(sys.executable).parent / "moto_server"
        command = [str(executable), "-H", "127.0.0.1", "-p", str(self.port)]
        super().__init__(command, folder / f"moto-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start_and_wait(self) -> None:
        self.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.port):
            if time.monotonic() > deadline or not self.running:
                self.stop()
                raise AssertionError(f"moto_server did not listen:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    def store(self, bucket: str, *, prefix: str = "blobs/") -> S3BlobStore:
        return S3BlobStore(
            bucket,
            prefix=prefix,
            endpoint_url=self.url,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )

    async def new_bucket(self) -> str:
        bucket = f"parley-{uuid.uuid4().hex[:12]}"
        async with self._client() as s3:
            await s3.create_bucket(Bucket=bucket)
        return bucket

    async def everything_in(self, bucket: str) -> set[str]:
        """Every object key, and every unfinished multipart upload's key."""
        async with self._client() as s3:
            listed = await s3.list_objects_v2(Bucket=bucket)
            uploads = await s3.list_multipart_uploads(Bucket=bucket)
        keys = {o["Key"] for o in listed.get("Contents", [])}
        return keys | {f"(unfinished) {u['Key']}" for u in uploads.get("Uploads", [])}

    def _client(self) -> Any:
        return get_session().create_client(
            "s3",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


async def moto_server(folder: Path) -> AsyncIterator[MotoServer]:
    """A running moto server (a fixture's body), stopped at the end."""
    server = MotoServer(folder)
    await server.start_and_wait()
    try:
        yield server
    finally:
        server.stop()
