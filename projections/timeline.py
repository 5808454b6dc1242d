"""The timeline projection: every message in order, with its read state, and
each side's read cursor. A merged-in copy says where it came from
(``merged_from_*``); one read before the merge is read from the start (its
``read_by_*_at`` is when it was copied)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from events.catalogue import ClientErased, MessageSent, MessagesRead, Side
from events.envelope import RecordedEvent
from projections import erasure
from projections.base import Statement, personal_of

_MESSAGE = """
INSERT INTO messages (conversation_id, seq, message_id, sender, sender_id, message_type,
                      content, attachment, client_message_id, created_at, position,
                      read_by_staff_at, read_by_client_at, merged_from_conversation_id,
                      merged_from_seq, merged_from_message_id, merged_from_sent_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
"""
# A side's reading marks the other side's messages read.
_MARK_READ = {
    Side.ADMIN: """
        UPDATE messages SET read_by_staff_at = $3
        WHERE conversation_id = $1 AND seq <= $2 AND sender = 'client' AND read_by_staff_at IS NULL
    """,
    Side.CLIENT: """
        UPDATE messages SET read_by_client_at = $3
        WHERE conversation_id = $1 AND seq <= $2 AND sender = 'admin' AND read_by_client_at IS NULL
    """,
}
_CURSOR = """
INSERT INTO read_cursors (conversation_id, reader, reader_id, up_to_seq, read_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (conversation_id, reader) DO UPDATE
SET up_to_seq = greatest(read_cursors.up_to_seq, excluded.up_to_seq),
    reader_id = excluded.reader_id, read_at = excluded.read_at
"""


class TimelineProjection:
    name: str = "timeline"
    tables: tuple[str, ...] = ("messages", "read_cursors")

    def statements(self, event: RecordedEvent) -> list[Statement]:
        if isinstance(event.data, ClientErased):
            return erasure.erase(self.tables, event.data)
        at = event.recorded_at
        match event.data:
            case MessageSent() as e:
                attachment = msgspec.json.encode(e.attachment) if e.attachment else None
                return [(_MESSAGE, (
                    e.conversation_id, e.seq, e.message_id, e.sender, e.sender_id,
                    e.message_type, e.content, attachment, e.client_message_id, at,
                    event.global_position, *_merged_from(e, at),
                ))]  # fmt: skip
            case MessagesRead() as e:
                cursor = (_CURSOR, (e.conversation_id, e.reader, e.reader_id, e.up_to_seq, at))
                if e.reader not in _MARK_READ:
                    return [cursor]
                return [(_MARK_READ[e.reader], (e.conversation_id, e.up_to_seq, at)), cursor]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return personal_of(run, MessageSent)


def _merged_from(message: MessageSent, at: datetime) -> tuple[Any, ...]:
    """A copy's read times (read before the merge: read since ``at``) and origin."""
    copied = message.merged_from
    if copied is None:
        return (None,) * 6
    by_staff = at if message.sender is Side.CLIENT and copied.read_by_staff else None
    by_client = at if message.sender is Side.ADMIN and copied.read_by_client else None
    origin = (copied.conversation_id, copied.seq, copied.message_id, copied.sent_at)
    return (by_staff, by_client, *origin)
