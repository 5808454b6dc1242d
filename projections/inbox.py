"""The inbox projection: one ``conversations`` row per conversation, with
its assignment, how long it has waited for an agent, and unread counts kept
exact by the inbox's own bookkeeping tables.

Every event folded into a row sets its ``position`` (the event's global
position) and its ``version`` (the event's stream position: how far the
conversation's stream has got, so a client can subscribe after it).

Unread (P5, per staff member): ``inbox_client_messages`` holds the seq of
every client message and ``inbox_staff_cursors`` each staff member's cursor.
The row's ``unread_for_staff`` is the client messages after its assignee's
cursor when it has one, else after the furthest staff cursor (unread by
every staff member); a viewer's own count is computed by the read API from
the same tables. ``unread_for_client`` counts ``inbox_unread`` rows (staff
messages the client has not read; rows leave when read).

Merge: a merged source is closed for good (``merged_into`` names the
target) and its unread — its counts and its bookkeeping rows — are gone:
they moved to the target with the copies. A merged-in copy (``merged_from``
set) is a message of the target, unread for staff only if it was unread
there (``merged_from.read_by_staff`` false), for the client likewise.

``waiting_since``: the moment since which the conversation has been open
(not closed, not deleted) without an agent — set at start, when its agent is
taken away and when it is reopened without one; ``NULL`` otherwise.

Snooze: a snoozed row has status ``snoozed``, its ``snoozed_until`` and the
``snoozed_version`` of the snooze (the waker reads them). A snoozed
conversation is set aside: it does not wait for an agent (``waiting_since``
is ``NULL`` while snoozed) and waits again, from the moment it wakes (or its
status changes), if it has no agent then — like a reopen."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from events.catalogue import (
    ClientErased,
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
    MessageSent,
    MessagesRead,
    Side,
)
from events.envelope import RecordedEvent
from projections import erasure
from projections.base import Statement, personal_of

PREVIEW_LENGTH = 140

_START = """
INSERT INTO conversations (conversation_id, client_id, client_name, channel, priority, status,
                           summary, created_at, last_update, position, version, team_id,
                           waiting_since)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11,
        CASE WHEN $6 = 'closed' THEN NULL ELSE $8::timestamptz END)
"""
_UPDATE = """
UPDATE conversations SET priority = coalesce($2, priority), summary = coalesce($3, summary),
                         last_update = $4, position = $5, version = $6
WHERE conversation_id = $1
"""
_STATUS = """
UPDATE conversations
SET status = $2, last_update = $3, position = $4, version = $5,
    snoozed_until = NULL, snoozed_version = NULL,
    waiting_since = CASE WHEN $2 = 'closed' OR assignee_id IS NOT NULL OR deleted THEN NULL
                         ELSE coalesce(waiting_since, $3) END
WHERE conversation_id = $1
"""
_SNOOZE = """
UPDATE conversations
SET status = 'snoozed', snoozed_until = $2, snoozed_version = $5, waiting_since = NULL,
    last_update = $3, position = $4, version = $5
WHERE conversation_id = $1
"""
_WAKE = """
UPDATE conversations
SET status = 'active', snoozed_until = NULL, snoozed_version = NULL,
    waiting_since = CASE WHEN assignee_id IS NOT NULL OR deleted THEN NULL
                         ELSE coalesce(waiting_since, $2) END,
    last_update = $2, position = $3, version = $4
WHERE conversation_id = $1
"""
_DELETE = """
UPDATE conversations
SET deleted = true, waiting_since = NULL, snoozed_until = NULL, snoozed_version = NULL,
    last_update = $2, position = $3, version = $4
WHERE conversation_id = $1
"""
# $2 messages at once (runs of MessageSent are folded into one update per
# conversation). New messages are after every cursor: counts only grow.
_MESSAGES = """
UPDATE conversations
SET message_count = message_count + $2,
    last_message_preview = left($3, $4), last_message_at = $5, last_update = $5,
    unread_for_staff = unread_for_staff + $6, unread_for_client = unread_for_client + $7,
    position = $8, version = $9, last_message_sender = $10, last_message_sender_id = $11
WHERE conversation_id = $1
"""
_CLIENT_MESSAGES = """
INSERT INTO inbox_client_messages (conversation_id, seq)
SELECT * FROM unnest($1::uuid[], $2::int[])
"""
_UNREAD_BY_CLIENT = """
INSERT INTO inbox_unread (conversation_id, reader, seq)
SELECT c, 'client', s FROM unnest($1::uuid[], $2::int[]) AS u(c, s)
"""
_CLIENT_READ = """
WITH read AS (
    DELETE FROM inbox_unread WHERE conversation_id = $1 AND reader = 'client' AND seq <= $2
    RETURNING 1
), n AS (SELECT count(*) AS read FROM read)
UPDATE conversations
SET unread_for_client = unread_for_client - n.read, position = $3, version = $4
FROM n
WHERE conversation_id = $1
"""
_STAFF_CURSOR = """
INSERT INTO inbox_staff_cursors (conversation_id, reader_id, up_to_seq) VALUES ($1, $2, $3)
ON CONFLICT (conversation_id, reader_id)
DO UPDATE SET up_to_seq = greatest(inbox_staff_cursors.up_to_seq, excluded.up_to_seq)
"""

_MERGED = """
UPDATE conversations
SET status = 'closed', merged_into = $2, unread_for_staff = 0, unread_for_client = 0,
    waiting_since = NULL, last_update = $3, position = $4, version = $5
WHERE conversation_id = $1
"""
_MERGED_FORGET = (
    "DELETE FROM inbox_client_messages WHERE conversation_id = $1",
    "DELETE FROM inbox_staff_cursors WHERE conversation_id = $1",
    "DELETE FROM inbox_unread WHERE conversation_id = $1",
)
_MERGED_IN = """
UPDATE conversations SET last_update = $2, position = $3, version = $4 WHERE conversation_id = $1
"""


def _staff_unread(assignee: str) -> str:
    """The client messages after ``assignee``'s cursor, or (no assignee)
    after the furthest staff cursor, of the row ``c``."""
    return f"""(
    SELECT count(*) FROM inbox_client_messages m
    WHERE m.conversation_id = c.conversation_id AND m.seq > coalesce((
        SELECT CASE WHEN {assignee} IS NULL THEN max(k.up_to_seq)
                    ELSE max(k.up_to_seq) FILTER (WHERE k.reader_id = {assignee}) END
        FROM inbox_staff_cursors k WHERE k.conversation_id = c.conversation_id), 0)
)"""


# After a staff member's cursor moved (the cursor statement runs first).
_STAFF_RECOUNT = f"""
UPDATE conversations c
SET unread_for_staff = {_staff_unread("c.assignee_id")}, position = $2, version = $3
WHERE conversation_id = $1
"""
# Assigned and Unassigned both state the assignment as it is now.
_ASSIGNMENT = f"""
UPDATE conversations c
SET assignee_id = $2, team_id = $3, last_update = $4, position = $5, version = $6,
    waiting_since = CASE WHEN $2::text IS NOT NULL OR c.status IN ('closed', 'snoozed') OR c.deleted
                         THEN NULL
                         ELSE coalesce(c.waiting_since, $4) END,
    unread_for_staff = {_staff_unread("$2::text")}
WHERE conversation_id = $1
"""
# The labels a conversation carries, in the order they were put on.
_LABELLED = """
UPDATE conversations
SET labels = array_append(array_remove(labels, $2), $2), last_update = $3, position = $4,
    version = $5
WHERE conversation_id = $1
"""
_UNLABELLED = """
UPDATE conversations
SET labels = array_remove(labels, $2), last_update = $3, position = $4, version = $5
WHERE conversation_id = $1
"""


class InboxProjection:
    name: str = "inbox"
    tables: tuple[str, ...] = (
        "conversations",
        "inbox_unread",
        "inbox_client_messages",
        "inbox_staff_cursors",
        "inbox_counts",
    )

    def statements(self, event: RecordedEvent) -> list[Statement]:
        if isinstance(event.data, ClientErased):
            return erasure.erase(self.tables, event.data)
        at, pos, version = event.recorded_at, event.global_position, event.stream_position
        match event.data:
            case ConversationStarted() as e:
                return [(_START, (
                    e.conversation_id, e.client.id, e.client.name, e.channel, e.priority,
                    e.status, e.summary, at, pos, version, e.team_id,
                ))]  # fmt: skip
            case ConversationUpdated() as e:
                return [(_UPDATE, (e.conversation_id, e.priority, e.summary, at, pos, version))]
            case ConversationStatusChanged() as e:
                return [(_STATUS, (e.conversation_id, e.to_status, at, pos, version))]
            case ConversationDeleted() as e:
                return [(_DELETE, (e.conversation_id, at, pos, version))]
            case ConversationSnoozed() as e:
                return [(_SNOOZE, (e.conversation_id, e.until, at, pos, version))]
            case ConversationWoke() as e:
                return [(_WAKE, (e.conversation_id, at, pos, version))]
            case ConversationAssigned() | ConversationUnassigned() as e:
                agent = e.agent_id if isinstance(e, ConversationAssigned) else None
                return [(_ASSIGNMENT, (e.conversation_id, agent, e.team_id, at, pos, version))]
            case ConversationMerged() as e:
                forget = [(sql, (e.conversation_id,)) for sql in _MERGED_FORGET]
                return [(_MERGED, (e.conversation_id, e.into, at, pos, version)), *forget]
            case ConversationMergedIn() as e:
                return [(_MERGED_IN, (e.conversation_id, at, pos, version))]
            case MessageSent():
                return self.run_statements([event])
            case MessagesRead(reader=Side.CLIENT) as e:
                return [(_CLIENT_READ, (e.conversation_id, e.up_to_seq, pos, version))]
            case MessagesRead(reader=Side.ADMIN) as e:
                return [
                    (_STAFF_CURSOR, (e.conversation_id, e.reader_id, e.up_to_seq)),
                    (_STAFF_RECOUNT, (e.conversation_id, pos, version)),
                ]
            case ConversationLabelled() as e:
                return [(_LABELLED, (e.conversation_id, e.label_id, at, pos, version))]
            case ConversationUnlabelled() as e:
                return [(_UNLABELLED, (e.conversation_id, e.label_id, at, pos, version))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        """A run of MessageSent: one update per conversation, one insert of
        the client messages' seqs, one of the client's unread rows (the
        rebuild's hot path)."""
        if events[0].type != "MessageSent":
            return [s for event in events for s in self.statements(event)]
        totals: dict[UUID, list[Any]] = {}
        from_client: tuple[list[UUID], list[int]] = ([], [])
        to_client: tuple[list[UUID], list[int]] = ([], [])
        for event in events:
            e = event.data
            assert isinstance(e, MessageSent)
            total = totals.setdefault(e.conversation_id, [0, "", None, 0, 0, 0, 0, "", ""])
            total[0] += 1
            total[1:3] = e.content, event.recorded_at
            total[3] += unread_by_staff(e)
            total[4] += unread_by_client(e)  # system messages are unread for nobody
            total[5:9] = event.global_position, event.stream_position, e.sender, e.sender_id
            if unread_by_staff(e):
                from_client[0].append(e.conversation_id)
                from_client[1].append(e.seq)
            elif unread_by_client(e):
                to_client[0].append(e.conversation_id)
                to_client[1].append(e.seq)
        statements: list[Statement] = [
            (_MESSAGES, (cid, n, content, PREVIEW_LENGTH, at, staff, client, pos, version, *who))
            for cid, (n, content, at, staff, client, pos, version, *who) in totals.items()
        ]
        if from_client[0]:
            statements.append((_CLIENT_MESSAGES, from_client))
        if to_client[0]:
            statements.append((_UNREAD_BY_CLIENT, to_client))
        return statements

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        """A start's client and summary, an update's summary, and of a run
        of messages only each conversation's last (its preview)."""
        if isinstance(run[0].data, MessageSent):
            last = {e.data.conversation_id: e for e in run if isinstance(e.data, MessageSent)}
            return last.values()
        return personal_of(run, ConversationStarted, ConversationUpdated)


def unread_by_staff(message: MessageSent) -> bool:
    """A client message, unless a merged-in copy of one read before the merge."""
    copied = message.merged_from
    return message.sender is Side.CLIENT and (copied is None or not copied.read_by_staff)


def unread_by_client(message: MessageSent) -> bool:
    """A staff message, unless a merged-in copy of one read before the merge."""
    copied = message.merged_from
    return message.sender is Side.ADMIN and (copied is None or not copied.read_by_client)
