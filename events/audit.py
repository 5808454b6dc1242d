"""Audit helpers over the event log: one-line summaries, JSON Lines, integrity checks.

``verify`` reads raw rows a page at a time and keeps only one counter per
stream, so its memory grows with the number of streams, never with the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final, assert_never

import asyncpg
import msgspec

from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
    CannedResponseChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    ConversationAssigned,
    ConversationDeleted,
    ConversationLabelled,
    ConversationMerged,
    ConversationMergedIn,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationUpdated,
    ConversationWoke,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
    MessageSent,
    MessagesRead,
    MessageType,
    NoteAdded,
    NotificationsRead,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
    event_type,
)
from events.envelope import Metadata, RecordedEvent
from events.store import EventStore
from events.upcasting import decode_event

QUOTE_LENGTH: Final = 40
"""Quoted text (message content, summaries) is cut to this many characters."""


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: QUOTE_LENGTH - 1]}…"' if len(flat) > QUOTE_LENGTH else f'"{flat}"'


def summary(event: AnyEvent) -> str:
    """The event in one line, its type first: ``MessageSent #3 by client c-1: "My parcel…"``."""
    match event:
        case ConversationStarted():
            client = f"{event.client.id} ({_quote(event.client.name)})"
            details = f"for client {client} via {event.channel}, {event.priority}, {event.status}"
        case ConversationUpdated():
            changes = [f"priority {event.priority}"] if event.priority else []
            if event.summary is not None:
                changes.append(f"summary {_quote(event.summary)}")
            details = ", ".join(changes)
        case ConversationStatusChanged():
            details = f"{event.from_status} -> {event.to_status}"
            details += f" ({_quote(event.reason)})" if event.reason else ""
        case ConversationDeleted():
            details = ""
        case MessageSent():
            details = f"#{event.seq} by {event.sender} {event.sender_id}: {_quote(event.content)}"
            if event.message_type is not MessageType.TEXT:
                details += f" [{event.message_type}]"
            if event.attachment is not None:
                details += f" + attachment {event.attachment.url or event.attachment.attachment_id}"
        case MessagesRead():
            details = f"{event.reader} {event.reader_id} read up to #{event.up_to_seq}"
        case ConversationAssigned() | ConversationUnassigned():
            whom = ", ".join(
                f"{k} {v}" for k, v in (("agent", event.agent_id), ("team", event.team_id)) if v
            )
            details = f"{whom or 'nobody'} by {event.by} ({event.reason})"
        case AgentRegistered():
            details = f"{event.agent_id} {_quote(event.display_name)}, capacity {event.capacity}"
        case AgentProfileChanged():
            changes = [f"name {_quote(event.display_name)}"] if event.display_name else []
            changes += [f"capacity {event.capacity}"] if event.capacity is not None else []
            details = f"{event.agent_id}: {', '.join(changes)}"
        case AgentAvailabilityChanged():
            details = f"{event.agent_id} {event.availability}"
        case TeamCreated():
            details = f"{event.team_id} {_quote(event.name)}" + (
                "" if event.routing else " (no router)"
            )
        case TeamMemberAdded() | TeamMemberRemoved():
            details = f"{event.team_id}: {event.agent_id}"
        case NoteAdded():
            details = f"by {event.author_id}: {_quote(event.content)}"
            details += f" (mentions {', '.join(event.mentions)})" if event.mentions else ""
        case ConversationLabelled() | ConversationUnlabelled():
            details = f"{event.label_id} by {event.by}"
        case ConversationSnoozed():
            details = f"until {event.until.isoformat()} by {event.by} (was {event.from_status})"
        case ConversationWoke():
            details = f"({event.reason})"
        case ConversationMerged():
            details = f"into {event.into} up to #{event.up_to_seq} by {event.by}"
        case ConversationMergedIn():
            details = f"{event.message_count} message(s) from {event.source_id} by {event.by}"
        case NotificationsRead():
            read = f"up to {event.up_to_position}" if event.up_to_position is not None else ""
            details = f"{event.agent_id} {read}{' '.join(map(str, event.note_ids))}"
        case LabelCreated() | LabelChanged():
            details = f"{event.label_id} {_quote(event.name) if event.name else ''}"
            details += f" {event.colour}" if event.colour else ""
        case LabelDeleted():
            details = event.label_id
        case CannedResponseCreated() | CannedResponseChanged():
            code = f"/{event.code}" if event.code else ""
            details = f"{event.response_id} {code} {_quote(event.content) if event.content else ''}"
        case CannedResponseDeleted():
            details = str(event.response_id)
        case AttachmentUploaded():
            details = f"{event.attachment_id} {event.mime_type} {event.size} B {_quote(event.name)}"
            details += f" for {event.conversation_id} by {event.uploader_side} {event.uploader_id}"
        case ImageChecked():
            details = f"{event.attachment_id} " + (event.problem or f"{event.width}x{event.height}")
        case _:
            assert_never(event)
    return f"{event_type(event)} {details}".rstrip()


def actor(metadata: Metadata) -> str:
    """Who caused an event: ``admin alice``, ``client carol``, or ``-``."""
    return " ".join(filter(None, (metadata.actor_role, metadata.actor_id))) or "-"


_encoder = msgspec.json.Encoder()


def json_lines(events: Sequence[RecordedEvent]) -> bytes:
    """One JSON envelope per line (decodes back with ``msgspec.json.Decoder(RecordedEvent)``)."""
    return _encoder.encode_lines(events)


async def pages(
    store: EventStore, *, after: int, until: int | None = None, size: int = 1000
) -> AsyncIterator[list[RecordedEvent]]:
    """The log after position ``after`` up to ``until`` (inclusive; ``None``: to its
    current end), one page of at most ``size`` events at a time."""
    while until is None or after < until:
        limit = size if until is None else min(size, until - after)
        page = await store.read_all(after=after, limit=limit)
        if not page:
            return
        yield page
        after = page[-1].global_position


# -- verify -------------------------------------------------------------------

_ROWS = """
SELECT global_position, stream_id, stream_position, type, schema_version, data, metadata
FROM events
WHERE global_position > $1 AND global_position <= $2
ORDER BY global_position
LIMIT $3
"""

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
    ``omitted`` counts the rest."""

    head: int = 0
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


async def verify(pool: asyncpg.Pool, *, page_size: int = 5000, max_problems: int = 100) -> Report:
    """Check the log up to its current head: global positions 1..head without
    holes, each stream's positions 1..n, every payload decodes against the
    catalogue (upcast from its schema version) under its stored type, and the
    append-only guard is in place and enabled."""
    report = Report(max_problems=max_problems)
    await _check_guard(pool, report)
    report.head = await pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
    versions: dict[str, int] = {}  # the one counter per stream
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
            after = position
        report.events += len(rows)
    report.streams = len(versions)
    return report


def _span(first: int, last: int) -> str:
    return f"position {first}" if first == last else f"positions {first}..{last}"


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
