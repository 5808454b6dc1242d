"""Supervisor: a thread that watches one embedded server and starts it again
when it dies, with back-off (see ``parley/embedded.py``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

WATCH_INTERVAL = 0.1
"""How often a supervisor checks that its server still runs (seconds)."""
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
STABLE_AFTER = 10.0
"""A server that ran this long since its last restart counts as healthy: its
next death is restarted at once, with the back-off reset."""

log = logging.getLogger("parley.embedded")


class Supervisor:
    """A thread that restarts a server when it dies, until :meth:`stop`.

    ``alive()`` says whether the server runs; ``restart()`` starts it again
    and returns once it answers (or raises). A failed restart is retried
    after a back-off that doubles up to :data:`MAX_BACKOFF`; so is a server
    that dies again within :data:`STABLE_AFTER` of its last restart.
    """

    def __init__(self, name: str, alive: Callable[[], bool], restart: Callable[[], None]) -> None:
        self.name = name
        self._alive = alive
        self._restart = restart
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"supervise {name}", daemon=True)
        self.restarts = 0

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self, timeout: float = 25.0) -> None:
        """Stop watching (a restart under way is let finish, for at most
        ``timeout`` seconds: the slowest start, PostgreSQL's, and a stop)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF
        restarted_at = -STABLE_AFTER  # never restarted: its first death is restarted at once
        while not self._stopping.wait(WATCH_INTERVAL):
            if self._alive():
                continue
            if time.monotonic() - restarted_at >= STABLE_AFTER:
                backoff = FIRST_BACKOFF
                log.warning("embedded %s stopped unexpectedly; restarting it", self.name)
            else:  # it died again soon after a restart: do not spin
                log.warning(
                    "embedded %s stopped again; restarting it in %.1f s", self.name, backoff
                )
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF)
            while not self._stopping.is_set():
                try:
                    self._restart()
                except Exception as error:
                    problem = " ".join(str(error).split()) or type(error).__name__
                    log.warning(
                        "embedded %s did not restart (%s); next try in %.1f s",
                        self.name,
                        problem,
                        backoff,
                    )
                    if self._stopping.wait(backoff):
                        return
                    backoff = min(backoff * 2, MAX_BACKOFF)
                else:
                    self.restarts += 1
                    restarted_at = time.monotonic()
                    log.warning("embedded %s restarted", self.name)
                    break
