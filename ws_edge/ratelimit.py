"""Per-user sliding-window rate limits (per node)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 60.0


class RateLimiter:
    def __init__(self, limits: dict[str, int], clock: Callable[[], float] = time.monotonic):
        self._limits = limits
        self._clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def take(self, user: str, kind: str) -> float | None:
        """Count one ``kind`` event for ``user``; over the limit, count nothing
        and return how many seconds until one is allowed again."""
        times = self._window(user, kind)
        if len(times) >= self._limits[kind]:
            return times[0] + WINDOW - self._clock()
        times.append(self._clock())
        return None

    def note(self, user: str, kind: str) -> None:
        """Count an event that is never refused (it still uses up the budget)."""
        self._window(user, kind).append(self._clock())

    def _window(self, user: str, kind: str) -> deque[float]:
        times = self._seen.setdefault((user, kind), deque())
        horizon = self._clock() - WINDOW
        while times and times[0] <= horizon:
            times.popleft()
        return times
