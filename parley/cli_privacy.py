"""``parley privacy``: erase a client, export what is stored about one,
rotate the master key (docs/PRIVACY.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from parley.process import database_url, fail, load_settings, one_line_errors, out, stoppable

if TYPE_CHECKING:
    import asyncpg

    from events.postgres.keys import ClientKeys
    from events.postgres.store import PostgresEventStore

T = TypeVar("T")

CLI_ACTOR = "cli"
"""The actor id the CLI's events name (an operator at the console, as admin)."""


@click.group()
def privacy() -> None:
    """Clients' personal data.

    Uses PARLEY_DATABASE_URL (unset: the embedded database `parley run` uses),
    PARLEY_MASTER_KEY (unset: the data folder's) and the blob store
    PARLEY_BLOB_STORE names.
    """


@privacy.command()
@click.option("--client-id", required=True, help="The client to erase.")
@click.option(
    "--wait",
    type=click.FloatRange(0, 600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the read models (first to know the client's "
    "conversations, then to purge them).",
)
def erase(client_id: str, wait: float) -> None:
    """Erase a client: destroy its data key, record ClientErased, purge the
    read models, snapshots and files. Needs a worker running (the read
    models are waited for)."""
    from commands import errors
    from commands.model import Actor, Role
    from commands.privacy import Erasure, PrivacyService
    from parley.blobs import open_blob_store
    from parley.worker import projections

    settings = load_settings()
    blobs = open_blob_store(settings)

    async def work(store: PostgresEventStore, pool: asyncpg.Pool, keys: ClientKeys) -> Erasure:
        names = [p.name for p in projections()]
        service = PrivacyService(store, pool, keys, blobs, names, wait=wait)
        try:
            return await service.erase(client_id, Actor(id=CLI_ACTOR, role=Role.ADMIN))
        except errors.DomainError as error:
            fail(error.message)
        finally:
            await blobs.close()

    done = _with_keys(work)
    out.print(
        f"client {client_id} erased at position {done.position}: {len(done.key_ids)} key(s) "
        f"destroyed, {len(done.conversation_ids)} conversation(s), "
        f"{done.snapshots_deleted} snapshot(s) and {len(done.blobs_deleted)} file(s) deleted"
    )
    if not done.purged:
        out.print("[yellow]the read models have not all caught up yet: a worker finishes it[/]")


@privacy.command()
@click.option("--client-id", required=True, help="The client whose data to export.")
def export(client_id: str) -> None:
    """Print everything stored about a client, as JSON."""
    import msgspec

    from commands import errors
    from commands.model import Actor, Role
    from commands.privacy_export import ClientExport, export_client

    async def work(store: PostgresEventStore, pool: asyncpg.Pool, _: ClientKeys) -> ClientExport:
        try:
            return await export_client(store, pool, client_id, Actor(id=CLI_ACTOR, role=Role.ADMIN))
        except errors.DomainError as error:
            fail(error.message)

    sys.stdout.buffer.write(msgspec.json.encode(_with_keys(work)) + b"\n")


def _with_keys(
    work: Callable[[PostgresEventStore, asyncpg.Pool, ClientKeys], Awaitable[T]],
) -> T:
    from events.postgres.keys import ClientKeys
    from events.postgres.store import PostgresEventStore
    from parley.master_key import check_master_key, master_key
    from parley.server import run_async
    from parley.services import connect_postgres

    settings = load_settings()

    async def run(url: str) -> T:
        pool = await connect_postgres(url)
        try:
            master = master_key(settings)
            await check_master_key(pool, master)
            keys = ClientKeys(pool, master)
            store = PostgresEventStore(pool, keys=keys)
            try:
                return await work(store, pool, keys)
            finally:
                await store.close()
        finally:
            await pool.close()

    with one_line_errors(), stoppable() as stack:
        url = database_url(settings, stack)
        return run_async(lambda: run(url))


@privacy.command(name="rotate-master-key")
@click.option(
    "--new-key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The new master key: 32 random bytes in base64 (openssl rand -base64 32).",
)
def rotate_master_key(new_key_file: Path) -> None:
    """Re-wrap every client's data key with a new master key, in one
    transaction. Stop every Parley process first; start them again with the
    new key (a process left running with the old one cannot make new keys).
    Where the master key is the data folder's, that file gets the new key."""
    from events.postgres.master_keys import MasterKey, RotationRefused, rotate_master_key
    from events.randomness import RandomBytes
    from parley.master_key import KEY_FILE, master_key, read_key, write_key
    from parley.server import run_async
    from parley.services import connect_postgres

    settings = load_settings()

    async def run(url: str, new: MasterKey) -> int:
        pool = await connect_postgres(url)
        try:
            async with pool.acquire() as conn:
                return await rotate_master_key(
                    conn, master_key(settings), new, RandomBytes(os.urandom)
                )
        except RotationRefused as refused:
            fail(str(refused))
        finally:
            await pool.close()

    with one_line_errors(), stoppable() as stack:
        new = MasterKey(read_key(new_key_file))
        url = database_url(settings, stack)
        rewrapped = run_async(lambda: run(url, new))
        out.print(f"{rewrapped} data key(s) re-wrapped with the new master key")
        if settings.master_key is None:
            write_key(settings.data_dir / KEY_FILE, new_key_file.read_text())
            out.print(f"{settings.data_dir / KEY_FILE} now holds the new master key")
        else:
            out.print("set PARLEY_MASTER_KEY to the new key, then start every process again")
