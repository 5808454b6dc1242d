"""Events committed by this process reach this process's sockets at once.

The way every event reaches every socket is the relay: it tails the log and
publishes to NATS, and each node's hub fans out what it hears. That path
costs a wake-up of the relay, a read and a publish, so the command handler
also tells this feed of each of its own appends. The store says where the
events landed and when they were recorded, so the feed knows them exactly as
stored (as a read would return them) and hands them to the hub at once; the
hub then ignores the copy that arrives through NATS. A store that does not
say when (``recorded_at`` unset) makes the feed read the events back instead.

Nothing depends on the feed: if it drops an append (its read-back queue is
full, the store is down), the NATS copy delivers, and a socket that sees a
hole fills it from the store as always.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from events.envelope import AppendResult, NewEvent, RecordedEvent
from events.store import EventStore
from ws_edge.hub import Hub

log = logging.getLogger("parley.ws")


def recorded(events: Sequence[NewEvent], result: AppendResult) -> list[RecordedEvent]:
    """``events`` as ``result`` says they were stored."""
    assert result.recorded_at is not None
    return [
        RecordedEvent(
            global_position=result.first_global_position + i,
            stream_id=result.stream_id,
            stream_position=result.first_stream_position + i,
            event_id=event.event_id,
            type=event.type,
            data=event.data,
            metadata=event.metadata,
            recorded_at=result.recorded_at,
        )
        for i, event in enumerate(events)
    ]


class LocalFeed:
    def __init__(self, store: EventStore, hub: Hub, *, queue_size: int = 1000) -> None:
        self._store = store
        self._hub = hub
        self._queue: asyncio.Queue[AppendResult] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None

    def appended(self, events: Sequence[NewEvent], result: AppendResult) -> None:
        """The command handler's hook: called in each conversation's commit order."""
        if not events or not self._hub.watched(events[0].data.conversation_id):
            return
        if result.recorded_at is not None:
            for event in recorded(events, result):
                self._hub.deliver(event, local=True)
            return
        with contextlib.suppress(asyncio.QueueFull):  # NATS delivers it anyway
            self._queue.put_nowait(result)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read_back())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read_back(self) -> None:
        """For stores that do not say when: read the appended events back."""
        while True:
            result = await self._queue.get()
            count = result.last_stream_position - result.first_stream_position + 1
            try:
                page = await self._store.read_stream(
                    result.stream_id, after=result.first_stream_position - 1, limit=count
                )
            except Exception as error:  # the store is down: NATS (or a resume) delivers
                log.warning("local feed: could not read back an append: %s", error)
                continue
            for event in page:
                self._hub.deliver(event, local=True)
