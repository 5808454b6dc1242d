"""The attachment settings (``PARLEY_ATTACHMENT_*``, ``PARLEY_BLOB_STORE``,
``PARLEY_S3_*``): part of :class:`parley.settings.Settings` as ``attachments``;
documented in docs/OPERATIONS.md and docs/ATTACHMENTS.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from parley.errors import SettingsError

MiB = 1024 * 1024
GiB = 1024 * MiB
BLOB_STORES = ("filesystem", "s3")


@dataclass(frozen=True, kw_only=True)
class AttachmentSettings:
    max_bytes: int = 25 * MiB
    """``PARLEY_ATTACHMENT_MAX_BYTES``: the largest file an upload may carry
    (26214400, 25 MiB); a larger one is refused 413 and nothing is stored."""

    url_seconds: float = 300.0
    """``PARLEY_ATTACHMENT_URL_SECONDS``: how long a signed download URL works."""

    blob_store: str = "filesystem"
    """``PARLEY_BLOB_STORE``: ``filesystem`` (files under ``PARLEY_DATA_DIR/blobs``)
    or ``s3`` (S3-compatible object storage, the ``PARLEY_S3_*`` settings)."""

    s3_bucket: str | None = None
    """``PARLEY_S3_BUCKET``: the bucket (it must exist); needed for ``s3``."""

    s3_endpoint_url: str | None = None
    """``PARLEY_S3_ENDPOINT_URL``: an S3-compatible server (MinIO, Ceph, …),
    e.g. ``http://minio:9000``; unset: AWS S3."""

    s3_region: str = "us-east-1"
    """``PARLEY_S3_REGION``."""

    s3_prefix: str = "blobs/"
    """``PARLEY_S3_PREFIX``: the key prefix of Parley's objects in the bucket."""

    s3_access_key_id: str | None = None
    """``PARLEY_S3_ACCESS_KEY_ID`` and ``PARLEY_S3_SECRET_ACCESS_KEY``: unset,
    botocore's usual chain is used (``AWS_*`` variables, shared files, an
    instance role)."""

    s3_secret_access_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AttachmentSettings:
        def get(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        defaults = cls()
        max_bytes = get("PARLEY_ATTACHMENT_MAX_BYTES")
        if max_bytes is not None and not (max_bytes.isdigit() and 0 < int(max_bytes) <= 4 * GiB):
            raise SettingsError(
                "PARLEY_ATTACHMENT_MAX_BYTES", f"expected bytes from 1 to 4 GiB, got {max_bytes!r}"
            )
        seconds = get("PARLEY_ATTACHMENT_URL_SECONDS")
        try:
            url_seconds = float(seconds) if seconds is not None else defaults.url_seconds
        except ValueError:
            url_seconds = -1.0
        if not 1 <= url_seconds <= 86_400:
            raise SettingsError(
                "PARLEY_ATTACHMENT_URL_SECONDS", f"expected 1 to 86400 seconds, got {seconds!r}"
            )
        store = (get("PARLEY_BLOB_STORE") or defaults.blob_store).lower()
        if store not in BLOB_STORES:
            raise SettingsError("PARLEY_BLOB_STORE", f"expected filesystem or s3, got {store!r}")
        bucket = get("PARLEY_S3_BUCKET")
        if store == "s3" and bucket is None:
            raise SettingsError("PARLEY_S3_BUCKET", "needed with PARLEY_BLOB_STORE=s3")
        endpoint = get("PARLEY_S3_ENDPOINT_URL")
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise SettingsError(
                "PARLEY_S3_ENDPOINT_URL", f"expected an http:// or https:// URL, got {endpoint!r}"
            )
        return cls(
            max_bytes=int(max_bytes) if max_bytes is not None else defaults.max_bytes,
            url_seconds=url_seconds,
            blob_store=store,
            s3_bucket=bucket,
            s3_endpoint_url=endpoint,
            s3_region=get("PARLEY_S3_REGION") or defaults.s3_region,
            s3_prefix=environ.get("PARLEY_S3_PREFIX", defaults.s3_prefix).strip(),
            s3_access_key_id=get("PARLEY_S3_ACCESS_KEY_ID"),
            s3_secret_access_key=get("PARLEY_S3_SECRET_ACCESS_KEY"),
        )
