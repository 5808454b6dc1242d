"""The blob-store port: bytes stored under their SHA-256, streamed both ways.

A blob is named by the lower-case hex SHA-256 of its content, so storing the
same bytes twice keeps one copy, and a name can never point at other bytes.
``put`` consumes an async stream of chunks and never holds the whole of it:
it hashes as it writes to a temporary place and gives the blob its name only
once the stream has ended cleanly. If the stream raises (the upload was too
large, of a refused type, cut short), nothing is stored and the error goes on
to the caller. Adapters, by technology: :mod:`blobs.filesystem` (a folder,
the embedded default) and :mod:`blobs.s3` (S3-compatible object storage).
The contract every adapter passes is ``tests/integration/blob_store_contract.py``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Final, Protocol, runtime_checkable

import msgspec

SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}\Z")
"""A blob's name: 64 lower-case hex digits."""

CHUNK_SIZE: Final = 64 * 1024
"""Bytes per chunk an adapter yields when it reads a blob back."""


class StoredBlob(msgspec.Struct, frozen=True, kw_only=True):
    """What ``put`` stored: the content's SHA-256 (hex) and its size in bytes."""

    sha256: str
    size: int


class BlobStoreError(Exception):
    """Base of the blob store's errors."""


class BlobNotFound(BlobStoreError):
    """No blob of that name is stored."""

    def __init__(self, sha256: str) -> None:
        super().__init__(f"no blob {sha256}")
        self.sha256 = sha256


class BlobStoreUnavailable(BlobStoreError):
    """The storage could not be reached or refused the request (a full disk,
    a network error, bad credentials): nothing was stored; retry later."""


def check_name(sha256: str) -> str:
    """``sha256`` if it is a blob's name, else :class:`ValueError` (a name
    goes into a path or an object key: nothing else may)."""
    if not SHA256_HEX.match(sha256):
        raise ValueError(f"not a blob name (64 lower-case hex digits): {sha256!r}")
    return sha256


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed storage of byte streams."""

    async def put(self, chunks: AsyncIterator[bytes]) -> StoredBlob:
        """Store the bytes ``chunks`` yields, under their SHA-256. An error
        raised by ``chunks`` leaves nothing stored and is raised again."""
        ...

    def open(self, sha256: str) -> AsyncIterator[bytes]:
        """The blob's bytes, in chunks; :class:`BlobNotFound` (when iterated
        first) if there is no such blob."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> bool:
        """Remove the blob; False if there was none."""
        ...

    async def close(self) -> None:
        """Release connections (the store is not used afterwards)."""
        ...
