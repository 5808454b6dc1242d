"""``append_on``: one append on a connection the caller holds, not through the
group commit.

Why a process manager appends this way: the router (``commands.router``)
leads while it holds a session advisory lock on one connection, and writes its
decisions on that same connection. A leader whose session is gone can then no
longer write, and the lock is only free once every write of the old session
is committed or gone, so the next leader, catching up to the head after
taking it, sees them all: two routers never decide on each other's blind spots.

The call is the group commit's (``parley_append``, see ``append_batch.py``),
with a batch of one; outside an explicit transaction it is its own
transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from events.envelope import AppendResult, NewEvent
from events.postgres.append_batch import APPEND, PendingAppend, batch_arguments, batch_outcome
from events.store import DuplicateEventError
from events.upcasting import current_version

_encode = msgspec.json.Encoder().encode


async def append_on(
    conn: asyncpg.Connection | PoolConnectionProxy,
    stream_id: str,
    events: Sequence[NewEvent],
    expected_version: int | None,
    *,
    timeout: float = 5.0,
) -> AppendResult:
    """Append ``events`` to ``stream_id`` on ``conn``, atomically, as
    :meth:`events.store.EventStore.append` does: a stale ``expected_version``
    raises :class:`~events.store.ConcurrencyError` and writes nothing. A lost
    connection raises what asyncpg raises (the append may or may not be stored:
    its events carry their ids, so a reader of the log can tell)."""
    if not events:
        raise ValueError("append needs at least one event")
    event_ids = [e.event_id for e in events]
    if len(set(event_ids)) != len(event_ids):
        raise DuplicateEventError("the same event id appears twice in one append")
    types = [e.type for e in events]
    loop = asyncio.get_running_loop()
    pending = PendingAppend(
        stream_id=stream_id,
        event_ids=event_ids,
        id_set=frozenset(event_ids),
        types=types,
        schema_versions=[current_version(t) for t in types],
        data=[_encode(e.data) for e in events],
        metadata=[_encode(e.metadata) for e in events],
        expected_version=expected_version,
        deadline=loop.time() + timeout,
        future=loop.create_future(),  # unused: the answer is returned
    )
    [row] = await conn.fetch(
        APPEND, *batch_arguments([pending], check_every_id=False), timeout=timeout
    )
    outcome = batch_outcome(pending, row)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
