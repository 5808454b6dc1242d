"""Schema migrations: numbered ``.sql`` files applied once each, in order.

Each package that owns tables keeps its migrations in a ``migrations/`` folder
beside its code; ``apply_migrations`` records what it applied in
``schema_migrations`` and is safe to run again (or from two processes at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg

EVENT_STORE_MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works; it only has to differ from the event log's append lock.
_MIGRATION_LOCK_KEY = 0x5041524C_4D494752  # "PARLMIGR"

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name       text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files(folders: Sequence[Path]) -> list[tuple[str, Path]]:
    """Every migration in ``folders``, in order, as (ledger name, file)."""
    files: list[tuple[str, Path]] = []
    for folder in folders:
        for path in sorted(folder.glob("*.sql")):
            files.append((f"{_package(folder)}/{path.stem}", path))
    return files


def _package(folder: Path) -> str:
    """The top-level package owning ``folder``: the ledger's name space
    (``events/001_event_store``), stable when a package moves its
    migrations within itself (``events/migrations`` → ``events/postgres/migrations``)."""
    package = folder.parent
    while (package.parent / "__init__.py").exists():
        package = package.parent
    return package.name


async def apply_migrations(conn: asyncpg.Connection, folders: Sequence[Path]) -> list[str]:
    """Apply every migration not applied yet; returns the names applied now."""
    applied_now: list[str] = []
    async with conn.transaction():
        # Serialise concurrent migrators; released at commit.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_LEDGER)
        done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, path in migration_files(folders):
            if name in done:
                continue
            await conn.execute(path.read_text())
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
    return applied_now
