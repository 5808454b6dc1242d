"""Replays that start together share their read of the store.

In a reconnect storm (a deploy, a network blip) many sockets open on the
same conversation at once, and each replays it from the same position: one
read of the store serves them all. A shared read may have begun before a
socket joined the hub, so it can stop short of events the hub fanned out
before that socket joined; the session checks for that (``Hub.delivered``)
and reads the rest itself (``ConversationSession._page``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from events.envelope import RecordedEvent

Key = tuple[str, int, int]  # stream, after, limit


class StreamReader(Protocol):
    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]: ...


class SharedReads:
    """``store``: where replays' first pages are read (the read replica's
    log when there is one: ``events/postgres/replica.py``)."""

    def __init__(self, store: StreamReader, *, may_lag: bool = False) -> None:
        """``may_lag``: ``store`` is a replica's, which may not hold the newest
        events yet (the session then reads past its page on the primary)."""
        self._store = store
        self.may_lag = may_lag
        self._reads: dict[Key, asyncio.Task[list[RecordedEvent]]] = {}

    async def read_stream(self, stream_id: str, *, after: int, limit: int) -> list[RecordedEvent]:
        """The store's ``read_stream``, shared with the callers asking the
        same while it runs. The list is shared too: do not change it."""
        key = (stream_id, after, limit)
        read = self._reads.get(key)
        if read is None:
            read = asyncio.create_task(self._store.read_stream(stream_id, after=after, limit=limit))
            self._reads[key] = read
            read.add_done_callback(self._finished(key))
        return await asyncio.shield(read)  # a caller that gives up leaves it to the others

    def _finished(self, key: Key) -> Callable[[asyncio.Task[list[RecordedEvent]]], None]:
        def finished(read: asyncio.Task[list[RecordedEvent]]) -> None:
            self._reads.pop(key, None)
            if not read.cancelled():
                read.exception()  # seen, even if every caller gave up

        return finished
