"""What a projection is, and how its events reach the database.

A projection is pure: ``statements(event)`` says which SQL statements (with
their arguments) an event causes; it does no I/O. Its SQL names its tables
unqualified, so the runner writes to the live tables and a rebuild, with its
shadow schema first on the search path, to the shadow copies.

``apply_events`` runs the statements of many events with few round trips:
it takes runs of consecutive events of one type, asks the projection for the
run's statements (``run_statements`` may fold a run into fewer statements:
the inbox turns many messages to one conversation into one update), and
sends each distinct statement text as one ``executemany`` (asyncpg pipelines
those). This is safe because, within one event type, a projection's different
statements commute (they touch different rows or tables); statements of the
same text keep their order.

Personal data (a client's texts and names, :mod:`events.sealing`) is stored
sealed, and opening it is most of what a sealed event costs to read. So a
projection names, per run, the events whose personal fields its statements
read (``reads_personal``), and a rebuild or catch-up opens only those
(:func:`needed_by`); the others come redacted.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from events.envelope import RecordedEvent
from events.postgres.checkpoints import Connection
from events.store import Needed

Statement = tuple[str, tuple[Any, ...]]


class Projection(Protocol):
    name: str
    """Its checkpoint's and its JetStream consumer's name."""
    tables: tuple[str, ...]
    """The read-model tables it owns (rebuilt and swapped together)."""

    def statements(self, event: RecordedEvent) -> list[Statement]:
        """The SQL an event causes (none for events it does not care about)."""
        ...

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        """The SQL a run of consecutive events of one type causes; may fold
        them into fewer statements than one by one would give."""
        ...

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        """The events of a run (as ``run_statements`` gets it) whose personal
        fields its statements read; the others may come redacted."""
        ...


def personal_of(run: Sequence[RecordedEvent], *types: type[Any]) -> Sequence[RecordedEvent]:
    """``run`` if its events are of one of ``types``, else none of it."""
    return run if isinstance(run[0].data, types) else ()


def runs(events: Sequence[RecordedEvent]) -> Iterator[list[RecordedEvent]]:
    """``events`` as runs of consecutive events of one type."""
    for _, run in itertools.groupby(events, key=lambda e: e.type):
        yield list(run)


def needed_by(projection: Projection) -> Needed:
    """What to open of a page for ``projection`` (``EventStore.read_all``)."""

    def needed(page: Sequence[RecordedEvent]) -> Iterator[RecordedEvent]:
        for run in runs(page):
            yield from projection.reads_personal(run)

    return needed


async def apply_events(
    conn: Connection, projection: Projection, events: Sequence[RecordedEvent]
) -> None:
    """Apply ``events`` in order, inside the caller's transaction."""
    for run in runs(events):
        by_sql: dict[str, list[tuple[Any, ...]]] = {}
        for sql, args in projection.run_statements(run):
            by_sql.setdefault(sql, []).append(args)
        for sql, many in by_sql.items():
            if len(many) == 1:
                await conn.execute(sql, *many[0])
            else:
                await conn.executemany(sql, many)
