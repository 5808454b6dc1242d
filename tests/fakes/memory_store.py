"""An in-memory event store: the EventStore port without a database.

It passes the same contract suite as PostgreSQL
(``tests/integration/event_store_contract.py``), so decider and handler tests
that need a store but not PostgreSQL run against it in milliseconds. Every
append is decided and written without awaiting in between, which is this
backend's whole ordering mechanism: one event loop, one append at a time, so
global positions are gapless and in commit order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from events.envelope import AppendResult, NewEvent, RecordedEvent
from events.store import ConcurrencyError, DuplicateEventError, Needed


class MemoryEventStore:
    """Append-only lists: the log, and each stream's events within it."""

    def __init__(self) -> None:
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._by_id: dict[UUID, RecordedEvent] = {}
        self._committed = asyncio.Condition()

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
    ) -> AppendResult:
        if not events:
            raise ValueError("an append needs at least one event")
        await asyncio.sleep(0)  # let concurrent callers interleave, as over a network
        ids = [e.event_id for e in events]
        if len(set(ids)) != len(ids):
            raise DuplicateEventError("the same event id twice in one append")
        if (replayed := self._replayed(stream_id, events)) is not None:
            return replayed
        if any(i in self._by_id for i in ids):
            raise DuplicateEventError(
                f"event ids of this append to {stream_id!r} are already stored, "
                "but not as this same append"
            )
        stream = self._streams.setdefault(stream_id, [])
        if expected_version is not None and expected_version != len(stream):
            raise ConcurrencyError(stream_id, expected_version, len(stream))
        now = datetime.now(UTC)
        for event in events:
            recorded = RecordedEvent(
                global_position=len(self._log) + 1,
                stream_id=stream_id,
                stream_position=len(stream) + 1,
                event_id=event.event_id,
                type=event.type,
                data=event.data,
                metadata=event.metadata,
                recorded_at=now,
            )
            self._log.append(recorded)
            stream.append(recorded)
            self._by_id[event.event_id] = recorded
        async with self._committed:
            self._committed.notify_all()
        return _result(stream_id, stream[-len(events) :], replayed=False, recorded_at=now)

    def _replayed(self, stream_id: str, events: Sequence[NewEvent]) -> AppendResult | None:
        """The first positions, when these events are stored as this very
        append (same stream and types, consecutive positions): a retry."""
        first = self._by_id.get(events[0].event_id)
        if first is None:
            return None
        stored = self._log[first.global_position - 1 : first.global_position - 1 + len(events)]
        same = len(stored) == len(events) and all(
            s.event_id == e.event_id
            and s.stream_id == stream_id
            and s.type == e.type
            and s.stream_position == first.stream_position + k
            for k, (s, e) in enumerate(zip(stored, events, strict=True))
        )
        if not same:
            raise DuplicateEventError(
                f"event ids of this append to {stream_id!r} are already stored, "
                "but not as this same append"
            )
        return _result(stream_id, stored, replayed=True, recorded_at=None)

    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        stream = self._streams.get(stream_id, [])
        return stream[after : None if limit is None else after + limit]

    async def read_all(
        self, *, after: int = 0, limit: int = 1000, needed: Needed | None = None
    ) -> list[RecordedEvent]:
        return self._log[after : after + limit]  # nothing is sealed here

    async def read_all_sealed(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return self._log[after : after + limit]  # nothing is sealed here

    async def find_event(self, event_id: UUID) -> RecordedEvent | None:
        return self._by_id.get(event_id)

    async def stream_version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, []))

    async def head_position(self) -> int:
        return len(self._log)

    async def wait_for_events(self, after: int, timeout: float) -> bool:
        async with self._committed:
            try:
                async with asyncio.timeout(timeout):
                    await self._committed.wait_for(lambda: len(self._log) > after)
            except TimeoutError:
                return False
        return True


def _result(
    stream_id: str,
    stored: Sequence[RecordedEvent],
    *,
    replayed: bool,
    recorded_at: datetime | None,
) -> AppendResult:
    return AppendResult(
        stream_id=stream_id,
        first_stream_position=stored[0].stream_position,
        last_stream_position=stored[-1].stream_position,
        first_global_position=stored[0].global_position,
        last_global_position=stored[-1].global_position,
        replayed=replayed,
        recorded_at=recorded_at,
    )
