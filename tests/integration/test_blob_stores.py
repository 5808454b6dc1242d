"""Both blob-store adapters pass the same contract: the filesystem one (the
embedded default) and the S3 one, against moto's S3 server (tests/s3_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blobs.filesystem import FilesystemBlobStore
from blobs.s3 import S3BlobStore
from tests.integration.blob_store_contract import BlobStoreContract, Leftovers
from tests.s3_server import MotoServer, moto_server


class TestFilesystemBlobStore(BlobStoreContract):
    @pytest.fixture
    def blobs(self, tmp_path: Path) -> FilesystemBlobStore:
        return FilesystemBlobStore(tmp_path / "blobs")

    @pytest.fixture
    def leftovers(self, blobs: FilesystemBlobStore) -> Leftovers:
        async def files() -> set[str]:
            return {p.name for p in blobs.root.rglob("*") if p.is_file()}

        return files

    async def test_a_blob_lives_under_two_levels_of_folders(
        self, blobs: FilesystemBlobStore
    ) -> None:
        stored = await blobs.put(_one(b"where"))

        name = stored.sha256
        assert blobs.path(name) == blobs.root / name[:2] / name[2:4] / name
        assert blobs.path(name).read_bytes() == b"where"


@pytest.fixture(scope="module")
async def moto(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MotoServer]:
    async for server in moto_server(tmp_path_factory.mktemp("moto")):
        yield server


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    async def bucket(self, moto: MotoServer) -> str:
        return await moto.new_bucket()

    @pytest.fixture
    async def blobs(self, moto: MotoServer, bucket: str) -> AsyncIterator[S3BlobStore]:
        store = moto.store(bucket)
        yield store
        await store.close()

    @pytest.fixture
    def leftovers(self, moto: MotoServer, bucket: str) -> Leftovers:
        async def keys() -> set[str]:
            return {k.removeprefix("blobs/") for k in await moto.everything_in(bucket)}

        return keys

    async def test_a_blob_is_the_object_named_by_its_hash_under_the_prefix(
        self, moto: MotoServer, bucket: str, blobs: S3BlobStore
    ) -> None:
        stored = await blobs.put(_one(b"where"))

        assert await moto.everything_in(bucket) == {f"blobs/{stored.sha256}"}

    async def test_an_unreachable_server_is_unavailable_not_a_crash(self) -> None:
        from blobs.port import BlobStoreUnavailable
        from parley.embedded import free_port

        store = S3BlobStore("nowhere", endpoint_url=f"http://127.0.0.1:{free_port()}")
        try:
            with pytest.raises(BlobStoreUnavailable):
                await store.put(_one(b"lost"))
            with pytest.raises(BlobStoreUnavailable):
                await store.exists("0" * 64)
        finally:
            await store.close()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
