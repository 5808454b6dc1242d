"""The inbox projection: one ``conversations`` row per conversation, with
unread counts for each side kept exact by its own ``inbox_unread`` rows.

Every event folded into a row sets its ``position`` (the event's global
position) and its ``version`` (the event's stream position: how far the
conversation's stream has got, so a client can subscribe after it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from events.catalogue import (
    ConversationDeleted,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUpdated,
    MessageSent,
    MessagesRead,
    Side,
)
from events.envelope import RecordedEvent
from projections.base import Statement

PREVIEW_LENGTH = 140

_START = """
INSERT INTO conversations (conversation_id, client_id, client_name, channel, priority, status,
                           summary, created_at, last_update, position, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)
"""
_UPDATE = """
UPDATE conversations SET priority = coalesce($2, priority), summary = coalesce($3, summary),
                         last_update = $4, position = $5, version = $6
WHERE conversation_id = $1
"""
_STATUS = """
UPDATE conversations SET status = $2, last_update = $3, position = $4, version = $5
WHERE conversation_id = $1
"""
_DELETE = """
UPDATE conversations SET deleted = true, last_update = $2, position = $3, version = $4
WHERE conversation_id = $1
"""
# $2 messages at once (runs of MessageSent are folded into one update per conversation).
_MESSAGES = """
UPDATE conversations
SET message_count = message_count + $2,
    last_message_preview = left($3, $4), last_message_at = $5, last_update = $5,
    unread_for_staff = unread_for_staff + $6, unread_for_client = unread_for_client + $7,
    position = $8, version = $9
WHERE conversation_id = $1
"""
_UNREAD = """
INSERT INTO inbox_unread (conversation_id, reader, seq)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])
"""
_READ = """
WITH read AS (
    DELETE FROM inbox_unread WHERE conversation_id = $1 AND reader = $2 AND seq <= $3
    RETURNING 1
), n AS (SELECT count(*) AS read FROM read)
UPDATE conversations
SET unread_for_staff = unread_for_staff - CASE WHEN $2 = 'admin' THEN n.read ELSE 0 END,
    unread_for_client = unread_for_client - CASE WHEN $2 = 'client' THEN n.read ELSE 0 END,
    position = $4, version = $5
FROM n
WHERE conversation_id = $1
"""

# Who has a message to read: the other side (system messages are unread for nobody).
_READER_OF = {Side.CLIENT: Side.ADMIN, Side.ADMIN: Side.CLIENT}


class InboxProjection:
    name: str = "inbox"
    tables: tuple[str, ...] = ("conversations", "inbox_unread")

    def statements(self, event: RecordedEvent) -> list[Statement]:
        at, pos, version = event.recorded_at, event.global_position, event.stream_position
        match event.data:
            case ConversationStarted() as e:
                return [(_START, (
                    e.conversation_id, e.client.id, e.client.name, e.channel, e.priority,
                    e.status, e.summary, at, pos, version,
                ))]  # fmt: skip
            case ConversationUpdated() as e:
                return [(_UPDATE, (e.conversation_id, e.priority, e.summary, at, pos, version))]
            case ConversationStatusChanged() as e:
                return [(_STATUS, (e.conversation_id, e.to_status, at, pos, version))]
            case ConversationDeleted() as e:
                return [(_DELETE, (e.conversation_id, at, pos, version))]
            case MessageSent():
                return self.run_statements([event])
            case MessagesRead() as e:
                return [(_READ, (e.conversation_id, e.reader, e.up_to_seq, pos, version))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        """A run of MessageSent: one update per conversation, one insert of
        every unread row (the rebuild's hot path)."""
        if events[0].type != "MessageSent":
            return [s for event in events for s in self.statements(event)]
        totals: dict[UUID, list[Any]] = {}
        unread: tuple[list[UUID], list[str], list[int]] = ([], [], [])
        for event in events:
            e = event.data
            assert isinstance(e, MessageSent)
            reader = _READER_OF.get(e.sender)
            total = totals.setdefault(e.conversation_id, [0, "", None, 0, 0, 0, 0])
            total[0] += 1
            total[1:3] = e.content, event.recorded_at
            total[3] += reader is Side.ADMIN
            total[4] += reader is Side.CLIENT
            total[5:7] = event.global_position, event.stream_position
            if reader is not None:
                unread[0].append(e.conversation_id)
                unread[1].append(reader)
                unread[2].append(e.seq)
        statements: list[Statement] = [
            (_MESSAGES, (cid, n, content, PREVIEW_LENGTH, at, staff, client, pos, version))
            for cid, (n, content, at, staff, client, pos, version) in totals.items()
        ]
        if unread[0]:
            statements.append((_UNREAD, unread))
        return statements
