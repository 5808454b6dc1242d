"""``parley events show | tail | export | verify | head``: the log, for auditors and operators.

Every command pages through the log (constant memory for any log size);
``--json`` and ``export`` print one envelope per line, as ``events.audit.json_lines``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

import click

from parley.process import database_url, err, fail, load_settings, one_line_errors, out, stoppable

if TYPE_CHECKING:
    import asyncpg
    from rich.text import Text

    from events.chain import Head
    from events.envelope import RecordedEvent
    from events.integrity import Report
    from events.postgres.store import PostgresEventStore

T = TypeVar("T")
TAIL_DEFAULT = 20
FOLLOW_WAKE_UP = 5.0  # seconds; NOTIFY normally wakes the tail sooner
JSON_HELP = "One JSON envelope per line instead of a timeline."


@click.group()
def events() -> None:
    """Read and check the event log.

    Uses PARLEY_DATABASE_URL (unset: the embedded database `parley run` uses).
    """


def _with_store(work: Callable[[PostgresEventStore, asyncpg.Pool], Awaitable[T]]) -> T:
    import asyncpg

    from events.postgres.store import PostgresEventStore
    from parley.master_key import client_keys
    from parley.server import run_async
    from parley.services import connect_postgres

    async def run(url: str) -> T:
        pool = await connect_postgres(url)
        store = PostgresEventStore(pool, keys=client_keys(pool, settings))
        try:
            return await work(store, pool)
        except asyncpg.UndefinedTableError:
            fail("the database has no event log yet: run `parley migrate` first")
        except asyncpg.UndefinedColumnError as error:  # e.g. no hash chain yet
            fail(
                f"the event log's schema is older than this Parley ({error}): run `parley migrate`"
            )
        finally:
            await store.close()
            await pool.close()

    settings = load_settings()
    with one_line_errors(), stoppable() as stack:
        url = database_url(settings, stack)
        return run_async(lambda: run(url))


def _print(page: Sequence[RecordedEvent], *, as_json: bool, with_stream: bool) -> None:
    """A page of events as JSON Lines or timeline lines; flushed, so a reader
    of a pipe sees each page at once."""
    from events.audit import json_lines

    try:
        if as_json:
            sys.stdout.buffer.write(json_lines(page))
        else:
            for event in page:
                out.print(_timeline_line(event, with_stream))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


def _timeline_line(event: RecordedEvent, with_stream: bool) -> Text:
    """``position  time  [stream]  actor  summary``, as plain text (no markup)."""
    from rich.text import Text

    from events.audit import actor, summary

    time = event.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    line = Text.assemble((f"{event.global_position:>9}", "cyan"), f"  {time}  ")
    line.append(f"{event.stream_id}  " if with_stream else "")
    line.append(f"{actor(event.metadata):<16}  ", "dim")
    line.append(summary(event.data))
    return line


@events.command()
@click.argument("conversation_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def show(conversation_id: UUID, as_json: bool) -> None:
    """A conversation's events as a timeline: position, time, actor, event."""
    from commands.model import stream_id_for

    stream = stream_id_for(conversation_id)

    async def work(store: PostgresEventStore, _pool: asyncpg.Pool) -> int:
        seen = 0
        while page := await store.read_stream(stream, after=seen, limit=1000):
            _print(page, as_json=as_json, with_stream=False)
            seen = page[-1].stream_position
        return seen

    if _with_store(work) == 0:
        fail(f"conversation {conversation_id} has no events")


@events.command()
@click.option("--from-position", type=click.IntRange(min=1), help="First position to print.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def tail(from_position: int | None, follow: bool, as_json: bool) -> None:
    """The global log in commit order, from --from-position (default: the last
    20 events); with --follow, then every new event as it commits."""
    import asyncio

    from events.audit import pages
    from parley.server import Shutdown

    async def work(store: PostgresEventStore, _pool: asyncpg.Pool) -> None:
        head = await store.head_position()
        after = max(head - TAIL_DEFAULT, 0) if from_position is None else from_position - 1
        with Shutdown().installed() as shutdown:  # Ctrl-C or SIGTERM: stop, exit 0
            try:
                async for page in pages(store, after=after, until=None if follow else head):
                    _print(page, as_json=as_json, with_stream=True)
                    after = page[-1].global_position
                while follow and not shutdown.requested:  # (even should a cancel get lost)
                    await store.wait_for_events(after, FOLLOW_WAKE_UP)
                    async for page in pages(store, after=after):
                        _print(page, as_json=as_json, with_stream=True)
                        after = page[-1].global_position
            except asyncio.CancelledError:
                if not shutdown.requested:
                    raise

    _with_store(work)


@events.command()
@click.option("--from-position", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--to-position", type=click.IntRange(min=1), help="Last position [default: head].")
def export(from_position: int, to_position: int | None) -> None:
    """The log as JSON Lines on stdout, one envelope per line, in commit order.

    Streams page by page in constant memory; without --to-position it stops
    at the head of the log as it was when the export started.
    """
    from events.audit import pages

    async def work(store: PostgresEventStore, _pool: asyncpg.Pool) -> int:
        until = await store.head_position() if to_position is None else to_position
        count = 0
        async for page in pages(store, after=from_position - 1, until=until):
            _print(page, as_json=True, with_stream=True)
            count += len(page)
        return count

    count = _with_store(work)
    err.print(f"exported {count} event(s)", style="dim")


class HeadParameter(click.ParamType["Head"]):
    """``POS:HEX``, as ``parley events head`` prints it."""

    name = "POS:HASH"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Head:
        from events.chain import Head, parse_head

        if isinstance(value, Head):
            return value
        try:
            return parse_head(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


@events.command()
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option(
    "--expect-head",
    type=HeadParameter(),
    help="A head kept from `parley events head`: the log must still hold that event, "
    "with that hash (so a cut tail or a rewritten history is found).",
)
def verify(as_json: bool, expect_head: Head | None) -> None:
    """Check the log's integrity; exit code 1, with a report, when anything is wrong.

    Global positions 1..head without holes, every stream's positions 1..n,
    every payload decodes against the event catalogue under its stored type,
    every event's hash follows from the hash before it and the event (the
    hash chain), and the append-only triggers are in place and enabled.
    """
    from events.integrity import verify as check

    async def work(_store: PostgresEventStore, pool: asyncpg.Pool) -> Report:
        with err.status("verifying the event log"):
            return await check(pool, expect_head=expect_head)

    report = _with_store(work)
    if as_json:
        import msgspec

        click.echo(msgspec.json.encode({"ok": report.ok, **msgspec.structs.asdict(report)}))
    else:
        _print_report(report)
    sys.exit(0 if report.ok else 1)


@events.command()
def head() -> None:
    """The log's head as POS:HASH: the last event's position and hash.

    Keep it elsewhere (a log, a signed note, a publication): `parley events
    verify --expect-head POS:HASH` later proves the log still holds it, so
    nothing up to it was rewritten and nothing after it was cut unseen.
    """
    from events.chain import HASH_SIZE
    from events.integrity import chain_head

    async def work(_store: PostgresEventStore, pool: asyncpg.Pool) -> Head:
        return await chain_head(pool)

    found = _with_store(work)
    if len(found.hash) != HASH_SIZE:
        fail(f"the event at position {found.position} has no hash: run `parley events verify`")
    click.echo(str(found))


def _print_report(report: Report) -> None:
    from rich.table import Table
    from rich.text import Text

    scope = f"{report.events} event(s) in {report.streams} stream(s), head {report.head}"
    if report.ok:
        out.print(f"[green]✓[/] the event log is intact: {scope}")
        if report.expected_head is not None:
            out.print(f"  it still holds the kept head {report.expected_head}", highlight=False)
        out.print(f"  head to keep: {report.head}:{report.head_hash}", highlight=False)
        return
    table = Table("check", "where", "problem", title=f"{len(report.problems)} problem(s)")
    for problem in report.problems:
        table.add_row(problem.check, Text(problem.where), Text(problem.detail))
    out.print(table)
    if report.omitted:
        out.print(f"… and {report.omitted} more problem(s) not listed")
    out.print(f"[bold red]✗[/] the event log has problems: {scope}")
