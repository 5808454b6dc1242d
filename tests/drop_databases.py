"""Drop a test run's databases, in a process of its own: ``python -m
tests.drop_databases URL NAME...``.

The run's teardown drops its databases itself (:func:`drop_on`) and, should
a drop still wait after a minute (seen in two loaded runs, cause not found),
hands them to this process and ends; the drops then finish here (each given
ten minutes)."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

END_BACKENDS = """
SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()
"""


async def drop_on(conn: asyncpg.Connection, names: list[str], timeout: float) -> None:
    """End every backend of these databases, then drop them, one by one."""
    await conn.execute(END_BACKENDS, names, timeout=30)
    for name in names:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=timeout)


async def main(url: str, names: list[str]) -> None:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        await drop_on(conn, names, timeout=600)
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
