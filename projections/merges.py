"""The merges projection: one ``merges`` row per merge, from its first step
(``ConversationMerged`` on the source) to its second (``ConversationMergedIn``
on the target, or on where the target was merged on to). The merge completer
(:mod:`commands.merge_completer`) reads the rows whose second step has not
landed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from events.catalogue import ConversationMerged, ConversationMergedIn
from events.envelope import RecordedEvent
from projections.base import Statement

_MERGED = """
INSERT INTO merges (source_id, target_id, merged_by, merged_at, position)
VALUES ($1, $2, $3, $4, $5)
"""
_IMPORTED = """
UPDATE merges SET imported = true, imported_into = $2, imported_at = $3 WHERE source_id = $1
"""


class MergesProjection:
    name: str = "merges"
    tables: tuple[str, ...] = ("merges",)

    def statements(self, event: RecordedEvent) -> list[Statement]:
        at = event.recorded_at
        match event.data:
            case ConversationMerged() as e:
                return [(_MERGED, (e.conversation_id, e.into, e.by, at, event.global_position))]
            case ConversationMergedIn() as e:
                return [(_IMPORTED, (e.source_id, e.conversation_id, at))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return ()  # no personal field
