"""The notifications projection: one ``notifications`` row per agent a
private note mentions (``NoteAdded.mentions``), with an excerpt of the note;
``read_at`` stays ``NULL`` until a ``NotificationsRead`` in the agent's
stream covers it — by position (``up_to_position``: the agent's notes up to
that global position, as the log stands when the event is projected) or by
``note_ids``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from events.catalogue import ClientErased, NoteAdded, NotificationsRead
from events.envelope import RecordedEvent
from projections import erasure
from projections.base import Statement, personal_of

EXCERPT_LENGTH: Final = 140
"""A notification shows the note's first characters."""

_MENTIONED = """
INSERT INTO notifications (agent_id, note_id, conversation_id, author_id, excerpt, created_at,
                           position)
SELECT agent_id, $2, $3, $4, $5, $6, $7 FROM unnest($1::text[]) AS m(agent_id)
ON CONFLICT (agent_id, note_id) DO NOTHING
"""
# The earliest read wins: so the statements of a run of reads commute.
_READ = """
UPDATE notifications SET read_at = $4
WHERE agent_id = $1 AND (position <= $2 OR note_id = ANY($3::uuid[]))
  AND (read_at IS NULL OR read_at > $4)
"""


def excerpt(content: str) -> str:
    return content[:EXCERPT_LENGTH]


class NotificationsProjection:
    name: str = "notifications"
    tables: tuple[str, ...] = ("notifications",)

    def statements(self, event: RecordedEvent) -> list[Statement]:
        if isinstance(event.data, ClientErased):
            return erasure.erase(self.tables, event.data)
        at, pos = event.recorded_at, event.global_position
        match event.data:
            case NoteAdded(mentions=mentions) as e if mentions:
                return [(_MENTIONED, (
                    list(mentions), e.note_id, e.conversation_id, e.author_id,
                    excerpt(e.content), at, pos,
                ))]  # fmt: skip
            case NotificationsRead() as e:
                return [(_READ, (e.agent_id, e.up_to_position, list(e.note_ids), at))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return personal_of(run, NoteAdded)
