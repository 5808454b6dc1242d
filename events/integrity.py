"""``verify``: the event log's integrity checks, and the head an operator keeps.

``verify`` reads raw rows a page at a time and keeps one counter per stream
and the last hash of the chain (:mod:`events.chain`), so its memory grows with
the number of streams, never with the log.
"""

from __future__ import annotations

from typing import Final

import asyncpg
import msgspec

from events.catalogue import event_type
from events.chain import GENESIS, Head, row_hash
from events.envelope import Metadata
from events.upcasting import decode_event

_ROWS = """
SELECT global_position, stream_id, stream_position, event_id, type, schema_version, data,
       metadata, recorded_at, hash
FROM events
WHERE global_position > $1 AND global_position <= $2
ORDER BY global_position
LIMIT $3
"""

_HEAD = "SELECT global_position, hash FROM events ORDER BY global_position DESC LIMIT 1"

_TRIGGERS = """
SELECT t.tgname AS name, t.tgenabled::text AS enabled, t.tgtype AS kind, p.proname AS function
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgrelid = 'events'::regclass AND NOT t.tgisinternal
"""

# The guard of migrations/001_event_store.sql: each trigger, what it must stop
# (pg_trigger.tgtype bits: 8 DELETE, 16 UPDATE, 32 TRUNCATE), and the function
# that refuses. tgenabled: O (fires normally) and A (always) are on; R fires
# only on replicas and D never.
GUARD: Final = {
    "events_append_only": ("UPDATE and DELETE", 8 | 16),
    "events_no_truncate": ("TRUNCATE", 32),
}
GUARD_FUNCTION: Final = "parley_events_are_append_only"
_ON: Final = ("O", "A")

_decode_metadata = msgspec.json.Decoder(Metadata).decode


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with the log: which check found it, where, and what."""

    check: str
    where: str
    detail: str


class Report(msgspec.Struct, kw_only=True):
    """What ``verify`` found. Only the first ``max_problems`` problems are kept;
    ``omitted`` counts the rest. ``head_hash`` is the stored hash at ``head``
    (hex), ``expected_head`` the kept head checked (``POS:HEX``), if any."""

    head: int = 0
    head_hash: str = GENESIS.hex()
    expected_head: str | None = None
    events: int = 0
    streams: int = 0
    problems: list[Problem] = msgspec.field(default_factory=list)
    omitted: int = 0
    max_problems: int = 100

    @property
    def ok(self) -> bool:
        return not self.problems and not self.omitted

    def add(self, check: str, where: str, detail: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(Problem(check=check, where=where, detail=detail))
        else:
            self.omitted += 1


async def chain_head(pool: asyncpg.Pool) -> Head:
    """The log's last event: its position and stored hash (``0`` and
    :data:`GENESIS` for an empty log; an empty hash if the row has none,
    which only a tampered log can have)."""
    row = await pool.fetchrow(_HEAD)
    if row is None:
        return Head(0, GENESIS)
    return Head(row["global_position"], bytes(row["hash"] or b""))


async def verify(
    pool: asyncpg.Pool,
    *,
    expect_head: Head | None = None,
    page_size: int = 5000,
    max_problems: int = 100,
) -> Report:
    """Check the log up to its current head: global positions 1..head without
    holes, each stream's positions 1..n, every payload decodes against the
    catalogue (upcast from its schema version) under its stored type, every
    hash follows from the one before it and its event (the hash chain), the
    append-only guard is in place and enabled, and, given ``expect_head``,
    that the log still holds that event with that hash."""
    report = Report(max_problems=max_problems)
    await _check_guard(pool, report)
    head = await chain_head(pool)
    report.head, report.head_hash = head.position, head.hash.hex()
    versions: dict[str, int] = {}  # the one counter per stream
    previous = GENESIS  # the hash stored on the row before
    kept: bytes | None = GENESIS if expect_head and expect_head.position == 0 else None
    after = 0
    while rows := await pool.fetch(_ROWS, after, report.head, page_size):
        for row in rows:
            position, stream, n = row["global_position"], row["stream_id"], row["stream_position"]
            if position != after + 1:
                report.add("global positions", _span(after + 1, position - 1), "no event there")
            last = versions.get(stream, 0)
            if n != last + 1:
                gap = (
                    f"{_span(last + 1, n - 1)} missing"
                    if n > last
                    else f"position {n} after {last}"
                )
                report.add("stream positions", stream, f"stream {gap}, before {position}")
            versions[stream] = max(last, n)
            _check_payload(row, report)
            previous = _check_link(row, previous, report)
            if expect_head is not None and position == expect_head.position:
                kept = previous
            after = position
        report.events += len(rows)
    report.streams = len(versions)
    if expect_head is not None:
        _check_kept_head(expect_head, kept, report)
    return report


def _span(first: int, last: int) -> str:
    return f"position {first}" if first == last else f"positions {first}..{last}"


def _check_link(row: asyncpg.Record, previous: bytes, report: Report) -> bytes:
    """Whether the row's stored hash follows from ``previous`` (the stored
    hash of the row before) and the row itself; returns the stored hash, so
    that each link is checked on its own and every broken one is named."""
    where = f"position {row['global_position']}"
    try:
        computed = row_hash(previous, row)
    except Exception as error:  # any failure to hash is a finding, not a crash
        report.add("hash chain", where, f"cannot hash the row: {error}")
        return previous
    stored = bytes(row["hash"]) if row["hash"] is not None else None
    if stored != computed:
        found = "no hash" if stored is None else f"hash {stored.hex()[:16]}…"
        report.add(
            "hash chain",
            where,
            f"{found}, computed {computed.hex()[:16]}…: this event or the one before it "
            "is not as it was appended (changed, removed, inserted or moved)",
        )
    return computed if stored is None else stored


def _check_kept_head(expected: Head, stored: bytes | None, report: Report) -> None:
    """Whether the log still holds the kept head's event, with its hash."""
    report.expected_head = str(expected)
    where = f"position {expected.position}"
    if expected.position > report.head:
        detail = f"no event there: the log ends at {report.head}, the events after it are gone"
        report.add("kept head", where, detail)
    elif stored is None:
        report.add("kept head", where, "no event there")
    elif stored != expected.hash:
        detail = f"hash {stored.hex()[:16]}…, kept {expected.hash.hex()[:16]}…: rewritten"
        report.add("kept head", where, detail)


def _check_payload(row: asyncpg.Record, report: Report) -> None:
    where, stored_type = f"position {row['global_position']}", row["type"]
    try:
        event = decode_event(stored_type, row["schema_version"], row["data"])
    except Exception as error:  # any failure to decode is a finding, not a crash
        version = row["schema_version"]
        report.add("payloads", where, f"not a valid {stored_type} v{version}: {error}")
        return
    if event_type(event) != stored_type:
        report.add("payloads", where, f"type column {stored_type}, payload {event_type(event)}")
    try:
        _decode_metadata(row["metadata"])
    except msgspec.DecodeError as error:
        report.add("payloads", where, f"metadata: {error}")


async def _check_guard(pool: asyncpg.Pool, report: Report) -> None:
    found = {row["name"]: row for row in await pool.fetch(_TRIGGERS)}
    for name, (operations, bits) in GUARD.items():
        where = f"trigger {name}"
        trigger = found.get(name)
        if trigger is None:
            report.add("append-only guard", where, f"missing: nothing stops {operations}")
            continue
        if trigger["enabled"] not in _ON:
            state = "disabled" if trigger["enabled"] == "D" else "fires only on replicas"
            report.add("append-only guard", where, f"{state}: nothing stops {operations}")
        if trigger["kind"] & bits != bits:
            report.add("append-only guard", where, f"does not fire on all of {operations}")
        if trigger["function"] != GUARD_FUNCTION:
            report.add("append-only guard", where, f"calls {trigger['function']}()")
    # Triggers enabled as O do not fire for a session in the replica role.
    if (role := await pool.fetchval("SHOW session_replication_role")) != "origin":
        report.add("append-only guard", "session_replication_role", f"{role}: triggers skipped")
