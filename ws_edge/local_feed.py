"""Events committed by this process reach this process's sockets at once.

The way every event reaches every socket is the relay: it tails the log and
publishes to NATS, and each node's hub fans out what it hears. That path
costs a wake-up of the relay, a read and a publish, so the command handler
also tells this feed of each of its own appends; the feed reads those events
back from the store (one indexed read, only for conversations with a socket
on this node) and hands them to the hub, which then ignores the copy that
arrives through NATS. Nothing depends on the feed: if it falls behind or
drops an append (its queue is full), the NATS copy delivers, and a socket
that sees a hole fills it from the store as always.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

from commands.model import stream_id_for
from events.envelope import AppendResult, RecordedEvent
from events.store import EventStore
from ws_edge.hub import Hub

log = logging.getLogger("parley.ws")

_BATCH = 64  # appends read back concurrently


class LocalFeed:
    def __init__(self, store: EventStore, hub: Hub, *, queue_size: int = 1000) -> None:
        self._store = store
        self._hub = hub
        self._queue: asyncio.Queue[tuple[UUID, AppendResult]] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None

    def appended(self, conversation_id: UUID, result: AppendResult) -> None:
        """The command handler's hook: called in each conversation's commit order."""
        if self._hub.watched(conversation_id):
            with contextlib.suppress(asyncio.QueueFull):  # NATS delivers it anyway
                self._queue.put_nowait((conversation_id, result))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                pages = await asyncio.gather(*(self._read(cid, result) for cid, result in batch))
            except Exception as error:  # the store is down: NATS (or a resume) delivers
                log.warning("local feed: could not read back appends: %s", error)
                continue
            for page in pages:  # in commit order per conversation
                for event in page:
                    self._hub.deliver(event, local=True)

    async def _read(self, conversation_id: UUID, result: AppendResult) -> list[RecordedEvent]:
        count = result.last_stream_position - result.first_stream_position + 1
        return await self._store.read_stream(
            stream_id_for(conversation_id), after=result.first_stream_position - 1, limit=count
        )
