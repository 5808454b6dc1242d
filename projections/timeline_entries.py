"""The staff timeline's entries: one ``timeline_entries`` row per private
note and per *system entry* — what happened to a conversation besides its
messages, so its history reads in one place (issue 17, points 1 and 6).

A note keeps its author, text and (in ``details``) its mentions. A system
entry keeps its event's type, who caused it (the event's ``by``, else the
actor in its metadata: the router, the waker, a client whose message woke
it) and the event's own fields in ``details``, as the log stores them
(``from``/``to`` of a status change, ``until`` of a snooze, …). Each row
sits at its event's global position: the read API merges the rows with the
``messages`` table in log order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from events.catalogue import (
    ClientErased,
    ConversationAssigned,
    ConversationLabelled,
    ConversationMerged,
    ConversationMergedIn,
    ConversationSnoozed,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationWoke,
    NoteAdded,
)
from events.envelope import RecordedEvent
from projections import erasure
from projections.base import Statement

SYSTEM_EVENTS: Final = (
    ConversationStatusChanged,
    ConversationSnoozed,
    ConversationWoke,
    ConversationAssigned,
    ConversationUnassigned,
    ConversationMerged,
    ConversationMergedIn,
    ConversationLabelled,
    ConversationUnlabelled,
)
"""The events that make a system entry."""
_NOT_DETAILS: Final = frozenset({"type", "conversation_id", "by"})

_ENTRY = """
INSERT INTO timeline_entries (position, conversation_id, kind, event_type, author_id, note_id,
                              content, details, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (position) DO NOTHING
"""


def details_of(event: msgspec.Struct) -> dict[str, Any]:
    """A system event's own fields (as stored), without its type,
    conversation and author."""
    fields = msgspec.to_builtins(event)
    assert isinstance(fields, dict)
    return {k: v for k, v in fields.items() if k not in _NOT_DETAILS}


class TimelineEntriesProjection:
    name: str = "timeline_entries"
    tables: tuple[str, ...] = ("timeline_entries",)

    def statements(self, event: RecordedEvent) -> list[Statement]:
        if isinstance(event.data, ClientErased):
            return erasure.erase(self.tables, event.data)
        at, pos, e = event.recorded_at, event.global_position, event.data
        if isinstance(e, NoteAdded):
            details = msgspec.json.encode({"mentions": list(e.mentions)})
            return [(_ENTRY, (
                pos, e.conversation_id, "note", event.type, e.author_id, e.note_id,
                e.content, details, at,
            ))]  # fmt: skip
        if isinstance(e, SYSTEM_EVENTS):
            by = getattr(e, "by", None) or event.metadata.actor_id
            details = msgspec.json.encode(details_of(e))
            return [(_ENTRY, (
                pos, e.conversation_id, "system", event.type, by, None, None, details, at,
            ))]  # fmt: skip
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return run
