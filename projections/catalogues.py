"""The catalogues projection: the account-wide ``labels`` (live ones only: a
deleted label's row goes, so it disappears from every conversation's row,
which joins here) and ``canned_responses`` (live ones; ``owner_id`` ``NULL``
for shared ones)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from events.catalogue import (
    CannedResponseChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
)
from events.envelope import RecordedEvent
from projections.base import Statement

_LABEL = """
INSERT INTO labels (label_id, name, colour, created_at, position) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (label_id) DO UPDATE
SET name = excluded.name, colour = excluded.colour, position = excluded.position
"""
_LABEL_CHANGED = """
UPDATE labels SET name = coalesce($2, name), colour = coalesce($3, colour), position = $4
WHERE label_id = $1
"""
_LABEL_DELETED = "DELETE FROM labels WHERE label_id = $1"
_CANNED = """
INSERT INTO canned_responses (response_id, code, content, owner_id, created_at, updated_at,
                              position)
VALUES ($1, $2, $3, $4, $5, $5, $6)
ON CONFLICT (response_id) DO UPDATE
SET code = excluded.code, content = excluded.content, owner_id = excluded.owner_id,
    updated_at = excluded.updated_at, position = excluded.position
"""
_CANNED_CHANGED = """
UPDATE canned_responses
SET code = coalesce($2, code), content = coalesce($3, content), updated_at = $4, position = $5
WHERE response_id = $1
"""
_CANNED_DELETED = "DELETE FROM canned_responses WHERE response_id = $1"


class CataloguesProjection:
    name: str = "catalogues"
    tables: tuple[str, ...] = ("labels", "canned_responses")

    def statements(self, event: RecordedEvent) -> list[Statement]:
        at, pos = event.recorded_at, event.global_position
        match event.data:
            case LabelCreated() as e:
                return [(_LABEL, (e.label_id, e.name, e.colour, at, pos))]
            case LabelChanged() as e:
                return [(_LABEL_CHANGED, (e.label_id, e.name, e.colour, pos))]
            case LabelDeleted() as e:
                return [(_LABEL_DELETED, (e.label_id,))]
            case CannedResponseCreated() as e:
                return [(_CANNED, (e.response_id, e.code, e.content, e.owner_id, at, pos))]
            case CannedResponseChanged() as e:
                return [(_CANNED_CHANGED, (e.response_id, e.code, e.content, at, pos))]
            case CannedResponseDeleted() as e:
                return [(_CANNED_DELETED, (e.response_id,))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return ()  # no personal field
