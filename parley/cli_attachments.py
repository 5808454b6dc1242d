"""``parley attachments purge``: remove a deleted conversation's files from
the blob store (docs/ATTACHMENTS.md, "Deleting a conversation's files")."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import click

from parley.cli_events import _with_store
from parley.process import fail, load_settings, out

if TYPE_CHECKING:
    import asyncpg

    from commands.blob_purge import Purged
    from events.postgres.store import PostgresEventStore


@click.group()
def attachments() -> None:
    """Uploaded files.

    Uses PARLEY_DATABASE_URL (unset: the embedded database `parley run` uses)
    and the blob store PARLEY_BLOB_STORE names.
    """


@attachments.command()
@click.argument("conversation_id", type=click.UUID)
def purge(conversation_id: UUID) -> None:
    """Remove the files of a DELETED conversation that no other conversation
    uses (its events stay; their download URLs then answer 410)."""
    from commands import errors
    from commands.blob_purge import purge_blobs
    from parley.blobs import open_blob_store

    blobs = open_blob_store(load_settings())

    async def work(store: PostgresEventStore, pool: asyncpg.Pool) -> Purged | str:
        try:
            return await purge_blobs(pool, store, blobs, conversation_id)
        except errors.DomainError as error:
            return error.message
        finally:
            await blobs.close()

    purged = _with_store(work)
    if isinstance(purged, str):
        fail(purged)
    out.print(
        f"conversation {conversation_id}: {len(purged.removed)} file(s) removed, "
        f"{len(purged.kept)} kept (used by another conversation), "
        f"{len(purged.missing)} already gone"
    )
