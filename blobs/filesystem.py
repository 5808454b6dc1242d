"""The blob store in a local folder (the embedded default, under
``PARLEY_DATA_DIR/blobs``).

A blob lives at ``<root>/<ab>/<cd>/<sha256>`` (two levels of 256 folders keep
any folder small). ``put`` writes to ``<root>/.incoming/<random>``, hashing
as it goes, fsyncs, and renames the file to its name: a reader sees a whole
blob or none, and a crash leaves at most a stray file in ``.incoming`` (which
``put`` never reads). File I/O runs in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from blobs.port import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobStoreUnavailable,
    StoredBlob,
    check_name,
)

T = TypeVar("T")

_FLUSH_AT = 256 * 1024
"""Bytes gathered before one write (one trip to a thread)."""


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming = root / ".incoming"

    def path(self, sha256: str) -> Path:
        """Where the blob named ``sha256`` lives."""
        name = check_name(sha256)
        return self.root / name[:2] / name[2:4] / name

    async def put(self, chunks: AsyncIterator[bytes]) -> StoredBlob:
        digest, size = hashlib.sha256(), 0
        temporary = self._incoming / uuid.uuid4().hex
        file = await _io(_create, temporary)
        try:
            pending = bytearray()
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                pending += chunk
                if len(pending) >= _FLUSH_AT:
                    await _io(file.write, bytes(pending))
                    pending.clear()
            await _io(_finish, file, bytes(pending))
            target = self.path(digest.hexdigest())
            await _io(_move, temporary, target)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(_discard, file, temporary))
            raise
        return StoredBlob(sha256=digest.hexdigest(), size=size)

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        path = self.path(sha256)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        except OSError as error:
            raise BlobStoreUnavailable(f"cannot read {path}: {error}") from error
        try:
            while chunk := await _io(file.read, CHUNK_SIZE):
                yield chunk
        finally:
            file.close()

    async def exists(self, sha256: str) -> bool:
        return await _io(self.path(sha256).is_file)

    async def delete(self, sha256: str) -> bool:
        path = self.path(sha256)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise BlobStoreUnavailable(f"cannot delete {path}: {error}") from error
        return True

    async def close(self) -> None:
        return None


async def _io(call: Callable[..., T], *args: object) -> T:
    """``call(*args)`` in a thread; an OS error becomes :class:`BlobStoreUnavailable`."""
    try:
        return await asyncio.to_thread(call, *args)
    except OSError as error:
        raise BlobStoreUnavailable(f"blob storage: {error}") from error


def _create(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


def _finish(file: BinaryIO, last: bytes) -> None:
    file.write(last)
    file.flush()
    os.fsync(file.fileno())
    file.close()


def _move(temporary: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, target)  # the same name means the same bytes: replacing is harmless
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _discard(file: BinaryIO, temporary: Path) -> None:
    with contextlib.suppress(OSError):
        file.close()
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
