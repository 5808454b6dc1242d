"""One group commit's wire format: the appends waiting for it, the call of
``parley_append`` that commits them, and what its outcome rows mean (pure
helpers of :mod:`events.postgres.group_commit`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from events.envelope import AppendResult
from events.store import ConcurrencyError, DuplicateEventError

# One group commit: see migrations/003_append_function.sql for the arguments
# and the outcome rows (one per append, in order). The documents ($7, $8)
# take the type parley_append declares: json[] since migration 008 (jsonb[]
# before it, as bench.append's stores without the chain still have it).
APPEND = """
SELECT outcome, first_stream_position, first_global_position, actual_version, recorded_at
FROM parley_append(
    stream_ids => $1::text[],
    expected_versions => $2::integer[],
    event_counts => $3::integer[],
    event_ids => $4::uuid[],
    event_types => $5::text[],
    event_schema_versions => $6::smallint[],
    event_data => $7,
    event_metadata => $8,
    check_every_id => $9::boolean
)
"""


@dataclass(eq=False)
class PendingAppend:
    """One caller's append, waiting in the queue for the next group commit."""

    stream_id: str
    event_ids: list[UUID]
    id_set: frozenset[UUID]
    types: list[str]
    schema_versions: list[int]
    data: list[bytes]
    metadata: list[bytes]
    expected_version: int | None
    deadline: float
    """``loop.time()`` by which the caller has its answer."""
    future: asyncio.Future[AppendResult] = field(repr=False)


def batch_arguments(batch: Sequence[PendingAppend], *, check_every_id: bool) -> tuple[Any, ...]:
    """A batch as the parallel arrays ``parley_append`` takes: per append, then
    per event (the appends' events concatenated)."""
    event_ids: list[UUID] = []
    types: list[str] = []
    schema_versions: list[int] = []
    data: list[bytes] = []
    metadata: list[bytes] = []
    for pending in batch:
        event_ids += pending.event_ids
        types += pending.types
        schema_versions += pending.schema_versions
        data += pending.data
        metadata += pending.metadata
    return (
        [p.stream_id for p in batch],
        [p.expected_version for p in batch],
        [len(p.event_ids) for p in batch],
        event_ids,
        types,
        schema_versions,
        data,
        metadata,
        check_every_id,
    )


def batch_outcome(pending: PendingAppend, row: asyncpg.Record) -> AppendResult | Exception:
    """What one outcome row of ``parley_append`` means for the caller."""
    outcome = row["outcome"]
    if outcome == "conflict":
        assert pending.expected_version is not None
        return ConcurrencyError(pending.stream_id, pending.expected_version, row["actual_version"])
    if outcome == "duplicate":
        return DuplicateEventError(
            f"event ids of this append to {pending.stream_id!r} are already stored, "
            "but not as this same append"
        )
    first_stream, first_global = row["first_stream_position"], row["first_global_position"]
    n = len(pending.event_ids)
    return AppendResult(
        stream_id=pending.stream_id,
        first_stream_position=first_stream,
        last_stream_position=first_stream + n - 1,
        first_global_position=first_global,
        last_global_position=first_global + n - 1,
        replayed=outcome == "replayed",
        recorded_at=row["recorded_at"],
    )
