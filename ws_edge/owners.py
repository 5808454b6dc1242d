"""Whose conversation a socket asks for: its client.

A conversation's client is fixed by its first event (ConversationStarted) and
never changes, so once known it is kept (a bounded LRU). Sockets that connect
at the same moment — a reconnect storm after a deploy, when the cache is
cold — share one query: the lookups asked for while one is in flight wait
for the next, which reads all their rows from the inbox read model at once
(as group commit does for appends). A conversation the read model does not
show yet (started a moment ago) is read from its stream. Only found
conversations are remembered: an unknown id may be started a moment later."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from uuid import UUID

import asyncpg

from commands.model import stream_id_for
from events.catalogue import ConversationStarted
from events.postgres.pool import bounded_connection
from events.store import EventStore

_CLIENTS = "SELECT conversation_id, client_id FROM conversations WHERE conversation_id = ANY($1)"


class Owners:
    def __init__(
        self, store: EventStore, pool: asyncpg.Pool, size: int = 100_000, timeout: float = 5.0
    ) -> None:
        self._store = store
        self._pool = pool
        self._size = size
        self._timeout = timeout  # as the store's reads: a frozen server answers StoreUnavailable
        self._known: OrderedDict[UUID, str] = OrderedDict()
        self._asked: dict[UUID, asyncio.Future[str | None]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def client_of(self, conversation_id: UUID) -> str | None:
        """The conversation's client's id; ``None``: no such conversation.
        Raises what PostgreSQL's absence raises (``ws_edge.outages``)."""
        client_id = self._known.get(conversation_id)
        if client_id is not None:
            self._known.move_to_end(conversation_id)
            return client_id
        asked = self._asked.get(conversation_id)
        if asked is None:
            asked = self._asked[conversation_id] = asyncio.get_running_loop().create_future()
        if self._reading is None:
            self._reading = asyncio.create_task(self._read())
        return await asyncio.shield(asked)  # a cancelled socket leaves the others' answers

    async def _read(self) -> None:
        """Answer every lookup asked for, batch after batch, until none waits."""
        try:
            while self._asked:
                batch, self._asked = self._asked, {}
                try:
                    found = await self._look_up(list(batch))
                except Exception as error:  # each waiting socket gets it (an outage)
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(error)
                            future.exception()  # retrieved: a socket may be gone
                    continue
                for conversation_id, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(conversation_id))
        finally:
            self._reading = None

    async def _look_up(self, conversation_ids: list[UUID]) -> dict[UUID, str]:
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            rows = await conn.fetch(_CLIENTS, conversation_ids, timeout=left())
        found: dict[UUID, str] = {row[0]: row[1] for row in rows}
        for conversation_id in set(conversation_ids) - found.keys():
            first = await self._store.read_stream(stream_id_for(conversation_id), limit=1)
            if first and isinstance(first[0].data, ConversationStarted):
                found[conversation_id] = first[0].data.client.id
        for conversation_id, client_id in found.items():
            self._known[conversation_id] = client_id
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return found
