"""What the command handler keeps between commands, per conversation stream:
the folded state (an LRU cache) and whose turn it is (a lock per stream).

- **Cost independent of a conversation's length.** A state is cached with the
  version it was folded to; a command decides on it and appends with that
  version as the expected one, so only the events after it are ever read.
- **Turns.** Commands on one stream take turns in this process; a lock lives
  only while some command holds or waits for it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from commands.model import INITIAL_STATE, ConversationState


@dataclass
class Folded:
    """A state and how far into its stream (and the log) it is folded;
    ``snapshot_at``: the version of the stream's newest snapshot known to be
    stored or being written (commands.snapshots)."""

    state: ConversationState = INITIAL_STATE
    version: int = 0
    position: int = 0
    snapshot_at: int = 0

    def copy(self) -> Folded:
        return Folded(self.state, self.version, self.position, self.snapshot_at)


class StateCache:
    """The most recently used folded states, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[str, Folded] = OrderedDict()
        self._size = size

    def get(self, stream_id: str) -> Folded | None:
        return self._entries.get(stream_id)

    def put(self, stream_id: str, folded: Folded) -> None:
        """Keep ``folded`` as the stream's newest state, evicting the least used."""
        self._entries[stream_id] = folded
        self._entries.move_to_end(stream_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, stream_id: str) -> None:
        """Drop the stream's state (say, after an append in doubt): the next
        command reads the stream again."""
        self._entries.pop(stream_id, None)


class StreamLocks:
    """One lock per stream, kept only while in use."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # lock, tasks using it

    @asynccontextmanager
    async def turn(self, stream_id: str) -> AsyncIterator[None]:
        """Wait for this stream's turn and hold it for the block."""
        lock, users = self._locks.get(stream_id) or (asyncio.Lock(), 0)
        self._locks[stream_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[stream_id]
            if users == 1:
                del self._locks[stream_id]
            else:
                self._locks[stream_id] = (lock, users - 1)

    def __len__(self) -> int:
        """How many streams have a command holding or waiting for their turn."""
        return len(self._locks)
