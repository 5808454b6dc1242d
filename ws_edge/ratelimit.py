"""Per-user (or per-address) sliding-window rate limits, per node.

Windows that have emptied are dropped once a minute, so keys that come once
(an address that connected one time) do not pile up.
"""

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
        self._swept = clock()

    def take(self, user: str, kind: str) -> float | None:
        """Count one ``kind`` event for ``user``; over the limit, count nothing
        and return how many seconds until one is allowed again."""
        times = self._window(user, kind)
        if len(times) >= self._limits[kind]:
            return times[0] + WINDOW - self._clock()
        times.append(self._clock())
        return None

    @property
    def tracked(self) -> int:
        """How many (key, kind) windows are held: those of the keys seen in
        about the last window, however many keys came before."""
        return len(self._seen)

    def _window(self, user: str, kind: str) -> deque[float]:
        horizon = self._clock() - WINDOW
        if self._swept < horizon:
            self._seen = {key: t for key, t in self._seen.items() if t and t[-1] > horizon}
            self._swept = self._clock()
        times = self._seen.setdefault((user, kind), deque())
        while times and times[0] <= horizon:
            times.popleft()
        return times
