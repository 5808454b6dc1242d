"""Random bytes for nonces and keys, drawn from the OS in chunks."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Final


class RandomBytes:
    """Random bytes (nonces, keys) drawn from ``source`` (the OS) a few
    kilobytes at a time: one system call per few hundred nonces instead of
    one per nonce. A forked child draws afresh: it never reuses its parent's
    bytes."""

    CHUNK: Final = 4096

    def __init__(self, source: Callable[[int], bytes]) -> None:
        self._source = source
        self._buffer, self._at = b"", 0
        _DRAWN.add(self)

    def take(self, n: int) -> bytes:
        if self._at + n > len(self._buffer):
            self._buffer, self._at = self._source(max(n, self.CHUNK)), 0
        taken = self._buffer[self._at : self._at + n]
        self._at += n
        return taken

    def discard(self) -> None:
        self._buffer, self._at = b"", 0


_DRAWN: Final[weakref.WeakSet[RandomBytes]] = weakref.WeakSet()


def _discard_drawn() -> None:
    for drawn in _DRAWN:
        drawn.discard()


os.register_at_fork(after_in_child=_discard_drawn)
