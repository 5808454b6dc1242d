"""The blob store the settings name: built here, in the composition root."""

from __future__ import annotations

from blobs.filesystem import FilesystemBlobStore
from blobs.port import BlobStore
from blobs.s3 import S3BlobStore
from parley.settings import Settings


def open_blob_store(settings: Settings) -> BlobStore:
    """``PARLEY_BLOB_STORE``'s adapter: files under ``PARLEY_DATA_DIR/blobs``,
    or the S3 bucket (its client connects on first use; ``close`` it)."""
    config = settings.attachments
    if config.blob_store == "s3":
        assert config.s3_bucket is not None  # the settings refuse s3 without a bucket
        return S3BlobStore(
            config.s3_bucket,
            prefix=config.s3_prefix,
            endpoint_url=config.s3_endpoint_url,
            region=config.s3_region,
            access_key_id=config.s3_access_key_id,
            secret_access_key=config.s3_secret_access_key,
        )
    return FilesystemBlobStore(settings.data_dir / "blobs")
