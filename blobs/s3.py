"""The blob store in S3-compatible object storage, through aiobotocore (the
asyncio client of the S3 API).

A blob is the object ``<prefix><sha256>``. ``put`` cannot know the name
before the stream ends, and never holds more than one part in memory:

- a stream shorter than one part (``part_size``, 8 MiB) is one ``PutObject``
  straight to its name;
- a longer one is a multipart upload to ``<prefix>.incoming/<random>``, one
  part at a time, completed, copied to its name (``CopyObject``, server
  side) and deleted. A stream that fails aborts the multipart upload, so
  nothing is left (a process killed in between leaves an incomplete upload:
  give the bucket a lifecycle rule that aborts those after a day,
  docs/OPERATIONS.md).

Tested against moto's server mode (``moto[server]``, PyPI), the most faithful
S3-compatible server that installs from the package registries here.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from blobs.port import CHUNK_SIZE, BlobNotFound, BlobStoreUnavailable, StoredBlob, check_name

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

PART_SIZE = 8 * 1024 * 1024
"""Bytes per part of a multipart upload (S3's least is 5 MiB but for the last)."""
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "blobs/",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        """Credentials left out come from botocore's usual chain (``AWS_*``
        variables, the shared files, an instance role)."""
        self.bucket = bucket
        self.prefix = prefix
        self._part_size = part_size
        self._client_args: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": AioConfig(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                # an endpoint of one's own (MinIO, moto, Ceph…) answers on its path
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            ),
        }
        self._stack = contextlib.AsyncExitStack()
        self._client: S3Client | None = None

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{check_name(sha256)}"

    async def put(self, chunks: AsyncIterator[bytes]) -> StoredBlob:
        digest, size = hashlib.sha256(), 0
        part = bytearray()
        upload: _Multipart | None = None
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                part += chunk
                if len(part) >= self._part_size:
                    upload = upload or await _Multipart.start(self)
                    await upload.send(bytes(part))
                    part.clear()
            name = digest.hexdigest()
            if upload is None:
                await self._call("PutObject", Key=self.key(name), Body=bytes(part))
            else:
                if part:
                    await upload.send(bytes(part))
                await upload.finish_as(self.key(name))
        except BaseException:
            if upload is not None:
                with contextlib.suppress(Exception):
                    await upload.abort()
            raise
        return StoredBlob(sha256=name, size=size)

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        try:
            response = await self._call("GetObject", Key=self.key(sha256))
        except BlobNotFound:
            raise BlobNotFound(sha256) from None
        async with response["Body"] as body:
            try:
                async for chunk in body.iter_chunks(CHUNK_SIZE):
                    yield chunk
            except (BotoCoreError, OSError, TimeoutError) as error:
                raise BlobStoreUnavailable(f"S3: reading {sha256}: {error}") from error

    async def exists(self, sha256: str) -> bool:
        try:
            await self._call("HeadObject", Key=self.key(sha256))
        except BlobNotFound:
            return False
        return True

    async def delete(self, sha256: str) -> bool:
        if not await self.exists(sha256):
            return False
        await self._call("DeleteObject", Key=self.key(sha256))
        return True

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def _s3(self) -> S3Client:
        if self._client is None:
            session = get_session()
            self._client = await self._stack.enter_async_context(
                session.create_client("s3", **self._client_args)
            )
        return self._client

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        """One S3 operation on this bucket; a missing key raises
        :class:`BlobNotFound`, any other failure :class:`BlobStoreUnavailable`."""
        client = await self._s3()
        method = getattr(client, _snake(operation))
        try:
            return await method(Bucket=self.bucket, **kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise BlobNotFound(str(kwargs.get("Key", ""))) from None
            raise BlobStoreUnavailable(f"S3 {operation}: {code or error}") from error
        except (BotoCoreError, OSError, TimeoutError) as error:
            raise BlobStoreUnavailable(f"S3 {operation}: {error}") from error


class _Multipart:
    """One multipart upload to a temporary key, then copied to its name."""

    def __init__(self, store: S3BlobStore, key: str, upload_id: str) -> None:
        self._store, self._key, self._id = store, key, upload_id
        self._parts: list[dict[str, Any]] = []
        self._completed = False

    @classmethod
    async def start(cls, store: S3BlobStore) -> _Multipart:
        key = f"{store.prefix}.incoming/{uuid.uuid4().hex}"
        created = await store._call("CreateMultipartUpload", Key=key)
        return cls(store, key, created["UploadId"])

    async def send(self, data: bytes) -> None:
        number = len(self._parts) + 1
        sent = await self._store._call(
            "UploadPart", Key=self._key, UploadId=self._id, PartNumber=number, Body=data
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def finish_as(self, key: str) -> None:
        call = self._store._call
        await call(
            "CompleteMultipartUpload",
            Key=self._key,
            UploadId=self._id,
            MultipartUpload={"Parts": self._parts},
        )
        self._completed = True
        source = {"Bucket": self._store.bucket, "Key": self._key}
        await call("CopyObject", Key=key, CopySource=source)
        await call("DeleteObject", Key=self._key)

    async def abort(self) -> None:
        if self._completed:
            await self._store._call("DeleteObject", Key=self._key)
        else:
            await self._store._call("AbortMultipartUpload", Key=self._key, UploadId=self._id)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
