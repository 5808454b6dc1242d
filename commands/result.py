"""What a command did: the answer the command handler gives its callers."""

from __future__ import annotations

from uuid import UUID

import msgspec


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a command did. ``position`` is the global position of its last
    event (or of the conversation's last event when nothing changed): a read
    may wait for the read models to reach it (read-your-writes)."""

    conversation_id: UUID
    position: int
    version: int
    events: list[str]
    message_id: UUID | None = None
    seq: int | None = None
    replayed: bool = False
