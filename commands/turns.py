"""Turns on a conversation across processes.

Within a process, commands on one conversation already take turns
(:class:`commands.state_cache.StreamLocks`); two processes writing the same
conversation race, and the loser retries from fresh state after a random
pause. Under sustained contention one process can lose race after race and
run out of retries. So a command that has lost ``RACES_BEFORE_TURN`` races
takes the stream's *turn* (a lock shared by every process: a PostgreSQL
advisory lock, ``events/postgres/turns.py``) and, holding it, retries until
the command's deadline: every race it still loses is another process's
progress, and every other loser queues behind it for the turn. Commands that
win their race, and streams nobody contends, never touch the lock.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

RACES_BEFORE_TURN = 3
"""Races a command loses before it takes the stream's turn."""


class StreamTurns(Protocol):
    def take(self, stream_id: str) -> AbstractAsyncContextManager[None]:
        """Wait for the stream's turn; hold it inside the context."""
        ...
