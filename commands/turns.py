"""Turns on a conversation across processes.

Within a process, commands on one conversation already take turns
(:class:`commands.state_cache.StreamLocks`); two processes writing the same
conversation race, and the loser retries from fresh state. Under steady
contention one process can lose race after race and run out of retries. So a
process that loses a race on a stream takes the stream's *turn* (a lock shared
by every process: a PostgreSQL advisory lock, ``events/postgres/turns.py``)
and keeps taking it for that stream's commands while the contention lasts.
Processes that take the turn never race each other; a stream nobody contends
costs nothing extra.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

CONTENDED_FOR = 2.0
"""Seconds after its last lost race or taken turn that a stream counts as contended."""


class StreamTurns(Protocol):
    def take(self, stream_id: str) -> AbstractAsyncContextManager[None]:
        """Wait for the stream's turn; hold it inside the context."""
        ...


class Contention:
    """The streams this process lost a race on lately."""

    def __init__(
        self, seconds: float = CONTENDED_FOR, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._until: dict[str, float] = {}

    def contended(self, stream_id: str) -> bool:
        return self._until.get(stream_id, 0.0) > self._clock()

    def seen(self, stream_id: str) -> None:
        """A race lost, or a turn taken, on ``stream_id`` now."""
        now = self._clock()
        if len(self._until) > 10_000:  # forget the streams whose contention ended
            self._until = {s: until for s, until in self._until.items() if until > now}
        self._until[stream_id] = now + self._seconds
