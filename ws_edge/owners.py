"""Whose conversation a socket asks for: its client, remembered.

A conversation's client is fixed by its first event (ConversationStarted) and
never changes, so once read it is kept (a bounded LRU): a reconnect storm of
sockets to the same conversations asks PostgreSQL once per conversation, not
once per socket. Only found conversations are remembered; an unknown id is
read again (it may be started a moment later)."""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

from commands.model import stream_id_for
from events.catalogue import ConversationStarted
from events.store import EventStore


class Owners:
    def __init__(self, store: EventStore, size: int = 100_000) -> None:
        self._store = store
        self._size = size
        self._known: OrderedDict[UUID, str] = OrderedDict()

    async def client_of(self, conversation_id: UUID) -> str | None:
        """The conversation's client's id; ``None``: no such conversation."""
        client_id = self._known.get(conversation_id)
        if client_id is not None:
            self._known.move_to_end(conversation_id)
            return client_id
        first = await self._store.read_stream(stream_id_for(conversation_id), limit=1)
        if not first or not isinstance(first[0].data, ConversationStarted):
            return None
        client_id = first[0].data.client.id
        self._known[conversation_id] = client_id
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return client_id
