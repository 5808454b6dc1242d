"""``parley projections status`` and ``parley projections rebuild [NAME]``."""

from __future__ import annotations

import click

from parley.process import database_url, fail, load_settings, one_line_errors, out, stoppable


@click.group()
def projections() -> None:
    """Inspect and rebuild the read models.

    Uses PARLEY_DATABASE_URL (unset: the embedded database `parley run` uses).
    """


@projections.command()
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 when the relay or a projection is stuck (a health check for workers).",
)
def status(check: bool) -> None:
    """Each projection's (and the relay's) position, the head of the log, the lag.

    Stuck: behind the head with no progress for PARLEY_STALL_SECONDS.
    """
    from datetime import UTC, datetime

    from rich.table import Table

    from parley.server import run_async
    from parley.status import consumer_status, stalled

    settings = load_settings()
    with one_line_errors(), stoppable() as stack:
        url = database_url(settings, stack)
        head, rows = run_async(lambda: consumer_status(url))
    problems = stalled(head, rows, datetime.now(UTC), settings.stall_seconds)
    table = Table("consumer", "position", "lag", "last moved", "state")
    for row in rows:
        lag = str(head - row.position)
        table.add_row(
            row.name, str(row.position), lag, str(row.updated_at), problems.get(row.name, "ok")
        )
    out.print(f"head of the log: {head}")
    out.print(table)
    if check and problems:
        fail("; ".join(f"{name} {problem}" for name, problem in problems.items()))


@projections.command()
@click.argument("name", required=False)
def rebuild(name: str | None) -> None:
    """Replay the whole log into shadow tables, then swap them in atomically.

    Rebuilds NAME, or every projection. The read API keeps answering from the
    old tables until the swap; the workers may keep running.
    """
    from rich.progress import Progress, TaskID

    from events.postgres.store import PostgresEventStore
    from parley.master_key import client_keys
    from parley.server import run_async
    from parley.services import connect_postgres
    from parley.worker import projections as all_projections
    from projections.rebuild import rebuild as rebuild_projection

    chosen = [p for p in all_projections() if name in (None, p.name)]
    if not chosen:
        names = ", ".join(p.name for p in all_projections())
        fail(f"no projection named {name!r} (there are: {names})")
    settings = load_settings()

    async def run(url: str) -> None:
        pool = await connect_postgres(url)
        store = PostgresEventStore(pool, keys=client_keys(pool, settings))
        try:
            with Progress(console=out) as bar:
                for projection in chosen:
                    task = bar.add_task(f"rebuilding {projection.name}", total=None)

                    def advance(done: int, head: int, task: TaskID = task) -> None:
                        bar.update(task, completed=done, total=head)

                    position = await rebuild_projection(pool, store, projection, progress=advance)
                    bar.update(task, description=f"rebuilt {projection.name} to {position}")
        finally:
            await store.close()
            await pool.close()

    with one_line_errors(), stoppable() as stack:
        url = database_url(settings, stack)
        run_async(lambda: run(url))
