"""The blob store contract: what every BlobStore adapter must do.

Written once against the port (``blobs.port``); each adapter gets it by
subclassing and providing two fixtures: ``blobs`` (the store, empty) and
``leftovers`` (everything the adapter holds, temporary files and unfinished
uploads included, so "nothing stored" is checked for real).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from blobs.port import BlobNotFound, BlobStore

Leftovers = Callable[[], Awaitable[set[str]]]
"""Every name the adapter holds (blobs, temporary files, unfinished uploads)."""

MiB = 1024 * 1024


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def generated(size: int, *, seed: int = 7, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``size`` pseudo-random bytes, made as they are read (never whole in memory)."""
    rng = random.Random(seed)
    for start in range(0, size, chunk):
        yield rng.randbytes(min(chunk, size - start))


def digest_of(size: int, *, seed: int = 7, chunk: int = 64 * 1024) -> str:
    rng, digest = random.Random(seed), hashlib.sha256()
    for start in range(0, size, chunk):
        digest.update(rng.randbytes(min(chunk, size - start)))
    return digest.hexdigest()


async def failing_after(data: bytes, error: Exception) -> AsyncIterator[bytes]:
    async for chunk in stream(data):
        yield chunk
    raise error


async def read(blobs: BlobStore, name: str) -> bytes:
    return b"".join([chunk async for chunk in blobs.open(name)])


class Refused(Exception):
    """What an upload's stream raises when the caller refuses it midway."""


class BlobStoreContract:
    async def test_a_blob_is_named_by_its_sha256_and_reads_back_whole(
        self, blobs: BlobStore
    ) -> None:
        data = b"%PDF-1.7 hello, blob" * 1000

        stored = await blobs.put(stream(data))

        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert stored.size == len(data)
        assert await blobs.exists(stored.sha256)
        assert await read(blobs, stored.sha256) == data

    async def test_the_same_bytes_twice_are_one_blob(
        self, blobs: BlobStore, leftovers: Leftovers
    ) -> None:
        first = await blobs.put(stream(b"same bytes"))
        second = await blobs.put(stream(b"same bytes", chunk=3))

        assert first == second
        assert await leftovers() == {first.sha256}

    async def test_an_empty_stream_is_the_empty_blob(self, blobs: BlobStore) -> None:
        stored = await blobs.put(stream(b""))

        assert stored.sha256 == hashlib.sha256(b"").hexdigest()
        assert stored.size == 0
        assert await read(blobs, stored.sha256) == b""

    async def test_a_large_stream_is_stored_in_pieces_and_never_held_whole(
        self, blobs: BlobStore, leftovers: Leftovers
    ) -> None:
        # 64 MiB, made as it is read: what is allocated at once stays well
        # under it (an adapter may hold one part: S3's are 8 MiB). A first
        # call sets up the adapter's client (botocore loads its S3 model) before.
        size = 64 * MiB
        await blobs.exists("0" * 64)
        tracemalloc.start()
        try:
            stored = await blobs.put(generated(size))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert stored.size == size
        assert stored.sha256 == digest_of(size)
        assert peak < size / 2
        assert await leftovers() == {stored.sha256}
        digest, total = hashlib.sha256(), 0
        async for chunk in blobs.open(stored.sha256):
            assert len(chunk) <= 1 * MiB  # read back in chunks too
            digest.update(chunk)
            total += len(chunk)
        assert (digest.hexdigest(), total) == (stored.sha256, size)

    @pytest.mark.parametrize("before_failing", [0, 1000, 9 * MiB])
    async def test_a_stream_that_fails_leaves_nothing_stored(
        self, blobs: BlobStore, leftovers: Leftovers, before_failing: int
    ) -> None:
        data = random.Random(before_failing).randbytes(before_failing)

        with pytest.raises(Refused):
            await blobs.put(failing_after(data, Refused("too large")))

        assert await leftovers() == set()
        assert not await blobs.exists(hashlib.sha256(data).hexdigest())

    async def test_a_failed_stream_does_not_harm_the_blob_of_the_same_bytes(
        self, blobs: BlobStore
    ) -> None:
        stored = await blobs.put(stream(b"kept"))

        with pytest.raises(Refused):
            await blobs.put(failing_after(b"kept", Refused("cut short")))

        assert await read(blobs, stored.sha256) == b"kept"

    async def test_concurrent_puts_of_the_same_bytes_all_succeed_as_one_blob(
        self, blobs: BlobStore, leftovers: Leftovers
    ) -> None:
        data = random.Random(3).randbytes(300_000)

        stored = await asyncio.gather(*(blobs.put(stream(data)) for _ in range(8)))

        assert {s.sha256 for s in stored} == {hashlib.sha256(data).hexdigest()}
        assert await leftovers() == {stored[0].sha256}
        assert await read(blobs, stored[0].sha256) == data

    async def test_a_deleted_blob_is_gone(self, blobs: BlobStore, leftovers: Leftovers) -> None:
        stored = await blobs.put(stream(b"to be deleted"))

        assert await blobs.delete(stored.sha256)

        assert not await blobs.exists(stored.sha256)
        assert not await blobs.delete(stored.sha256)
        assert await leftovers() == set()
        with pytest.raises(BlobNotFound):
            await read(blobs, stored.sha256)

    async def test_an_unknown_blob_is_not_found(self, blobs: BlobStore) -> None:
        unknown = hashlib.sha256(b"never stored").hexdigest()

        assert not await blobs.exists(unknown)
        assert not await blobs.delete(unknown)
        with pytest.raises(BlobNotFound):
            await read(blobs, unknown)

    @pytest.mark.parametrize("name", ["", "../etc/passwd", "A" * 64, "0" * 63, "0" * 64 + "/x"])
    async def test_only_a_sha256_is_a_name(self, blobs: BlobStore, name: str) -> None:
        with pytest.raises(ValueError, match="not a blob name"):
            await blobs.exists(name)
        with pytest.raises(ValueError, match="not a blob name"):
            await read(blobs, name)
        with pytest.raises(ValueError, match="not a blob name"):
            await blobs.delete(name)
