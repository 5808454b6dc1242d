"""The labels on an inbox row: those of the conversation's labels still in
the catalogue (a deleted label disappears from every row), by name. Staff
only: ``read_api.views.for_viewer`` empties them for a client."""

from __future__ import annotations

import msgspec


class LabelView(msgspec.Struct, frozen=True, kw_only=True):
    """A label of the catalogue, as rows and ``GET /api/labels`` show it."""

    label_id: str
    name: str
    colour: str


LABELS_COLUMN = """coalesce((
    SELECT jsonb_agg(jsonb_build_object('label_id', l.label_id, 'name', l.name, 'colour', l.colour)
                     ORDER BY lower(l.name), l.label_id)
    FROM labels l WHERE l.label_id = ANY(c.labels)), '[]'::jsonb) AS labels"""
"""The labels of the row ``c`` as one JSON array (the pool decodes nothing:
:func:`labels_of` does)."""

_DECODER = msgspec.json.Decoder(list[LabelView])


def labels_of(raw: bytes | str) -> list[LabelView]:
    return _DECODER.decode(raw)
