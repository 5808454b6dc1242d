"""The master key that wraps every client's data key (docs/PRIVACY.md):
``PARLEY_MASTER_KEY``, or one generated into the data folder on first use."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

import asyncpg

from events.postgres.keys import ClientKeys
from events.postgres.master_keys import KEY_SIZE, MasterKey
from parley.errors import StartupError
from parley.settings import Settings

KEY_FILE = "master.key"


def master_key(settings: Settings) -> MasterKey:
    """The configured master key, or the data folder's (made on first use)."""
    if settings.master_key is not None:
        return MasterKey(settings.master_key)
    return MasterKey(generated_key(settings.data_dir / KEY_FILE))


def generated_key(path: Path) -> bytes:
    """The key kept in ``path``, made (readable by its owner only) when there
    is none. Two processes starting at once end with the same key: the file
    appears whole or not at all (written aside, then linked into place)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = _written_aside(path, base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
        aside.unlink()
    return read_key(path)


def read_key(path: Path) -> bytes:
    """A master key kept in ``path`` (base64)."""
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_SIZE:
        raise StartupError(f"{path}: not a master key ({KEY_SIZE} bytes in base64)")
    return key


def write_key(path: Path, encoded: str) -> None:
    """Replace the key kept in ``path`` with ``encoded`` (whole or not at all)."""
    os.replace(_written_aside(path, encoded.strip()), path)


def _written_aside(path: Path, encoded: str) -> Path:
    """``encoded`` in a file beside ``path``, readable by its owner only."""
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(encoded + "\n")
    return aside


async def check_master_key(pool: asyncpg.Pool, master: MasterKey) -> None:
    """Refuse to start with another master key than the one this database's
    data keys are wrapped with (the first process to start records its
    fingerprint)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO master_key (fingerprint) VALUES ($1) ON CONFLICT DO NOTHING",
            master.fingerprint,
        )
        kept = await conn.fetchval("SELECT fingerprint FROM master_key")
    if kept != master.fingerprint:
        raise StartupError(
            "PARLEY_MASTER_KEY is not the master key this database's data keys are "
            "wrapped with (see docs/PRIVACY.md, 'Master key')"
        )


def client_keys(pool: asyncpg.Pool, settings: Settings) -> ClientKeys:
    """The key ring of a process's event store (and of its JetStream readers)."""
    return ClientKeys(pool, master_key(settings))
