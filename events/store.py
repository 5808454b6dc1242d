"""The event store port: what every backend must offer, and its typed errors.

Level 1 — per stream: ``append`` with an expected version, ``read_stream``.
Level 2 — a total order over all events: ``read_all`` in commit order, and
``wait_for_events`` so tailers sleep until something new commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeAlias, runtime_checkable
from uuid import UUID

from events.envelope import AppendResult, NewEvent, RecordedEvent

Needed: TypeAlias = Callable[[Sequence[RecordedEvent]], Iterable[RecordedEvent]]
"""Of a page of the log read shut (personal fields redacted), the events
whose personal fields the reader needs opened (see ``read_all``)."""


class EventStoreError(Exception):
    """Base of the store's typed errors."""


class ConcurrencyError(EventStoreError):
    """The stream moved on since the caller read it; nothing was written."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, expected {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class DuplicateEventError(EventStoreError):
    """Some event ids of the append already exist, but not as this very append
    (a partial overlap, another stream, or another type); nothing was written."""


class StoreUnavailable(EventStoreError):
    """The database could not be reached in time. The append was *not*
    written (an append whose commit was in doubt is looked up first), so the
    caller may retry it with the same event ids."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@runtime_checkable
class EventStore(Protocol):
    """Append-only, per-stream optimistic concurrency, gapless global order."""

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` atomically.

        ``expected_version`` is the stream's current length the caller decided
        on (0 = a new stream); ``None`` skips the check. A stale version raises
        :class:`ConcurrencyError` and writes nothing. Re-appending events whose
        ids are already stored, as the same append, returns the original
        positions with ``replayed=True`` and writes nothing.
        """
        ...

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of one stream with ``stream_position > after``, in order."""
        ...

    async def read_all(
        self, *, after: int = 0, limit: int = 1000, needed: Needed | None = None
    ) -> list[RecordedEvent]:
        """Events with ``global_position > after`` in commit order. A tailer that
        calls this repeatedly with its last seen position never skips an event.
        Every event is opened, or with ``needed`` only those it names, the
        others read as :meth:`read_all_sealed` reads them (a rebuild opens
        only what its projection reads: decrypting is most of a sealed
        event's cost)."""
        ...

    async def read_all_sealed(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """As :meth:`read_all`, with nothing opened: each event's personal
        fields only in its sealed part, as the relay publishes it (no key is
        read, nothing decrypted)."""
        ...

    async def find_event(self, event_id: UUID) -> RecordedEvent | None:
        """The stored event with this id, if any (for answering retries)."""
        ...

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current length (0 when it does not exist)."""
        ...

    async def head_position(self) -> int:
        """The highest committed global position (0 for an empty log)."""
        ...

    async def wait_for_events(self, after: int, timeout: float) -> bool:
        """Sleep until the log has an event past ``after`` or ``timeout`` runs
        out; returns whether there is one."""
        ...
