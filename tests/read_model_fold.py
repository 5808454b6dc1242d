"""What the read models must hold: a plain, independent fold over the log.

Deliberately written without SQL and without the projections' code, so the
integration tests compare two independent derivations of the same log.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from events.catalogue import (
    ConversationDeleted,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUpdated,
    ConversationWoke,
    MessageSent,
    MessagesRead,
    Side,
)
from events.envelope import RecordedEvent

Row = dict[str, Any]


def fold(log: list[RecordedEvent]) -> tuple[dict[UUID, Row], dict[tuple[UUID, int], Row]]:
    """(conversations by id, messages by (conversation id, seq))."""
    conversations: dict[UUID, Row] = {}
    messages: dict[tuple[UUID, int], Row] = {}
    cursors: dict[tuple[UUID, Side], int] = {}
    for event in log:
        data, at = event.data, event.recorded_at
        row = conversations.get(data.conversation_id)
        match data:
            case ConversationStarted():
                conversations[data.conversation_id] = {
                    "client_id": data.client.id,
                    "client_name": data.client.name,
                    "channel": data.channel.value,
                    "priority": data.priority.value,
                    "status": data.status.value,
                    "summary": data.summary,
                    "created_at": at,
                    "last_update": at,
                    "last_message_preview": None,
                    "last_message_at": None,
                    "message_count": 0,
                    "unread_for_staff": 0,
                    "unread_for_client": 0,
                    "deleted": False,
                    "version": 0,
                }
            case ConversationUpdated() if row:
                row["priority"] = data.priority.value if data.priority else row["priority"]
                row["summary"] = row["summary"] if data.summary is None else data.summary
                row["last_update"] = at
            case ConversationStatusChanged() if row:
                row["status"] = data.to_status.value
                row["last_update"] = at
            case ConversationSnoozed() | ConversationWoke() if row:
                row["status"] = "snoozed" if isinstance(data, ConversationSnoozed) else "active"
                row["last_update"] = at
            case ConversationDeleted() if row:
                row["deleted"] = True
                row["last_update"] = at
            case MessageSent():
                messages[(data.conversation_id, data.seq)] = {
                    "sender": data.sender.value,
                    "content": data.content,
                    "read_by_staff": False,
                    "read_by_client": False,
                }
                if row:
                    row["message_count"] += 1
                    row["last_message_preview"] = data.content[:140]
                    row["last_message_at"] = row["last_update"] = at
            case MessagesRead():
                key = (data.conversation_id, data.reader)
                cursors[key] = max(cursors.get(key, 0), data.up_to_seq)
                other = {Side.ADMIN: "client", Side.CLIENT: "admin"}.get(data.reader)
                flag = "read_by_staff" if data.reader is Side.ADMIN else "read_by_client"
                for (cid, seq), message in messages.items():
                    mine = cid == data.conversation_id and seq <= data.up_to_seq
                    if mine and message["sender"] == other:
                        message[flag] = True
        # Every event of a conversation that has a row moves the row's version
        # to the event's place in the conversation's stream.
        if (folded := conversations.get(data.conversation_id)) is not None:
            folded["version"] = event.stream_position
    for (cid, _), message in messages.items():
        if row := conversations.get(cid):
            if message["sender"] == "client" and not message["read_by_staff"]:
                row["unread_for_staff"] += 1
            if message["sender"] == "admin" and not message["read_by_client"]:
                row["unread_for_client"] += 1
    return conversations, messages
