"""The search projection: one ``search_documents`` row per thing a search
can find (migration 008 has the columns and indexes).

- a **conversation** (``ConversationStarted``): its client's name and id,
  and its summary as the body (``ConversationUpdated`` changes it);
- a **message** (``MessageSent``): its content;
- a **note** (``NoteAdded``): its content (staff only: the read API never
  shows a client a note).

A merged-in copy counts once, on the target: when the copy lands, the row of
the message it copies (``merged_from.message_id``) is deleted, so a merged
source's messages are found under the target only (until the merge's second
step lands, the originals are still found under the source). A merged
source keeps its own conversation document and its notes (notes are not
copied); search results carry the source's ``merged_into``.

A deleted conversation keeps its rows: the read API hides them by the
inbox's ``deleted``, as it does everything else about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from events.catalogue import (
    ClientErased,
    ConversationStarted,
    ConversationUpdated,
    MessageSent,
    NoteAdded,
)
from events.envelope import RecordedEvent
from projections import erasure
from projections.base import Statement

_CONVERSATION = """
INSERT INTO search_documents (kind, doc_id, conversation_id, client_id, position, created_at,
                              client_name, body)
VALUES ('conversation', $1, $1, $2, $3, $4, $5, $6)
"""
_SUMMARY = """
UPDATE search_documents SET body = $2 WHERE kind = 'conversation' AND doc_id = $1
"""
# A run of messages at once (the rebuild's hot path). The owner comes from
# the conversation's own document, written before any of its messages.
_MESSAGES = """
INSERT INTO search_documents (kind, doc_id, conversation_id, client_id, position, created_at,
                              seq, sender, author_id, body)
SELECT 'message', m.id, m.cid, c.client_id, m.pos, m.at, m.seq, m.sender, m.author, m.body
FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::timestamptz[], $5::int[], $6::text[],
            $7::text[], $8::text[]) AS m(id, cid, pos, at, seq, sender, author, body)
JOIN search_documents c ON c.kind = 'conversation' AND c.doc_id = m.cid
"""
_COPIED = """
DELETE FROM search_documents WHERE kind = 'message' AND doc_id = ANY($1::uuid[])
"""
_NOTE = """
INSERT INTO search_documents (kind, doc_id, conversation_id, client_id, position, created_at,
                              author_id, body)
SELECT 'note', $1, $2, c.client_id, $3, $4, $5, $6
FROM search_documents c WHERE c.kind = 'conversation' AND c.doc_id = $2
"""


class SearchProjection:
    name: str = "search"
    tables: tuple[str, ...] = ("search_documents",)

    def statements(self, event: RecordedEvent) -> list[Statement]:
        if isinstance(event.data, ClientErased):
            return erasure.erase(self.tables, event.data)
        at, pos = event.recorded_at, event.global_position
        match event.data:
            case ConversationStarted() as e:
                return [(_CONVERSATION, (
                    e.conversation_id, e.client.id, pos, at, e.client.name, e.summary or "",
                ))]  # fmt: skip
            case ConversationUpdated(summary=str() as summary) as e:
                return [(_SUMMARY, (e.conversation_id, summary))]
            case MessageSent():
                return self.run_statements([event])
            case NoteAdded() as e:
                return [(_NOTE, (e.note_id, e.conversation_id, pos, at, e.author_id, e.content))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        """A run of MessageSent: one insert of every message, then one delete
        of the originals its merged-in copies replace."""
        if events[0].type != "MessageSent":
            return [s for event in events for s in self.statements(event)]
        columns: tuple[list[Any], ...] = tuple([] for _ in range(8))
        copied: list[UUID] = []
        for event in events:
            e = event.data
            assert isinstance(e, MessageSent)
            row = (
                e.message_id, e.conversation_id, event.global_position, event.recorded_at,
                e.seq, e.sender.value, e.sender_id, e.content,
            )  # fmt: skip
            for column, value in zip(columns, row, strict=True):
                column.append(value)
            if e.merged_from is not None:
                copied.append(e.merged_from.message_id)
        statements: list[Statement] = [(_MESSAGES, columns)]
        if copied:
            statements.append((_COPIED, (copied,)))
        return statements

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return run
