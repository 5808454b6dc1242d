"""The event store contract: what every EventStore backend must do.

Written once against the port; each backend gets it by subclassing and
providing a ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from events.store import ConcurrencyError, DuplicateEventError, EventStore
from tests.factories import message, messages, new_stream_id


class EventStoreContract:
    async def test_append_to_a_new_stream_numbers_it_from_one(self, store: EventStore) -> None:
        stream = new_stream_id()
        head = await store.head_position()

        result = await store.append(stream, messages(3), expected_version=0)

        assert (result.first_stream_position, result.last_stream_position) == (1, 3)
        assert result.global_positions == range(head + 1, head + 4)
        assert not result.replayed
        stored = await store.read_stream(stream)
        assert [e.stream_position for e in stored] == [1, 2, 3]
        assert [e.global_position for e in stored] == list(result.global_positions)

    async def test_events_come_back_as_they_went_in(self, store: EventStore) -> None:
        stream = new_stream_id()
        sent = messages(2)

        await store.append(stream, sent, expected_version=0)

        stored = await store.read_stream(stream)
        assert [e.event_id for e in stored] == [e.event_id for e in sent]
        assert [e.data for e in stored] == [e.data for e in sent]
        assert [e.metadata for e in stored] == [e.metadata for e in sent]
        assert [e.type for e in stored] == ["MessageSent", "MessageSent"]
        assert all(e.stream_id == stream for e in stored)

    async def test_a_stale_expected_version_raises_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        stream = new_stream_id()
        await store.append(stream, messages(2), expected_version=0)
        head = await store.head_position()

        with pytest.raises(ConcurrencyError) as raised:
            await store.append(stream, messages(1), expected_version=1)

        assert (raised.value.expected_version, raised.value.actual_version) == (1, 2)
        assert await store.head_position() == head
        assert await store.stream_version(stream) == 2

    async def test_expecting_a_new_stream_fails_when_it_exists(self, store: EventStore) -> None:
        stream = new_stream_id()
        await store.append(stream, messages(1), expected_version=0)

        with pytest.raises(ConcurrencyError):
            await store.append(stream, messages(1), expected_version=0)

    async def test_no_expected_version_appends_at_the_end(self, store: EventStore) -> None:
        stream = new_stream_id()
        await store.append(stream, messages(2), expected_version=None)
        result = await store.append(stream, messages(1), expected_version=None)
        assert result.first_stream_position == 3

    async def test_re_appending_the_same_events_returns_the_first_positions(
        self, store: EventStore
    ) -> None:
        stream = new_stream_id()
        batch = messages(3)
        first = await store.append(stream, batch, expected_version=0)
        head = await store.head_position()

        # A client retry: same event ids, same (now stale) expected version.
        again = await store.append(stream, batch, expected_version=0)

        assert again.replayed
        assert again.global_positions == first.global_positions
        assert (again.first_stream_position, again.last_stream_position) == (1, 3)
        assert await store.head_position() == head
        assert len(await store.read_stream(stream)) == 3

    async def test_concurrent_retries_of_one_append_store_it_once(self, store: EventStore) -> None:
        stream = new_stream_id()
        batch = messages(2)

        results = await asyncio.gather(*(store.append(stream, batch, 0) for _ in range(10)))

        assert len({r.global_positions for r in results}) == 1
        assert sum(not r.replayed for r in results) == 1
        assert len(await store.read_stream(stream)) == 2

    async def test_a_partial_overlap_of_event_ids_is_refused(self, store: EventStore) -> None:
        stream = new_stream_id()
        batch = messages(2)
        await store.append(stream, batch, expected_version=0)
        head = await store.head_position()

        with pytest.raises(DuplicateEventError):
            await store.append(stream, [batch[1], message()], expected_version=2)
        with pytest.raises(DuplicateEventError):
            await store.append(new_stream_id(), batch, expected_version=0)
        assert await store.head_position() == head

    async def test_one_writer_wins_a_race_on_the_same_version(self, store: EventStore) -> None:
        stream = new_stream_id()
        await store.append(stream, messages(1), expected_version=0)
        attempts = [messages(2) for _ in range(20)]

        outcomes = await asyncio.gather(
            *(store.append(stream, a, expected_version=1) for a in attempts),
            return_exceptions=True,
        )

        winners = [i for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]
        assert len(winners) == 1
        losers = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(o, ConcurrencyError) for o in losers)
        stored = await store.read_stream(stream)
        assert [e.event_id for e in stored[1:]] == [e.event_id for e in attempts[winners[0]]]

    async def test_read_stream_pages_with_after_and_limit(self, store: EventStore) -> None:
        stream = new_stream_id()
        await store.append(stream, messages(5), expected_version=0)

        page = await store.read_stream(stream, after=2, limit=2)

        assert [e.stream_position for e in page] == [3, 4]

    async def test_read_all_returns_the_log_in_order_after_a_position(
        self, store: EventStore
    ) -> None:
        head = await store.head_position()
        a = await store.append(new_stream_id(), messages(2), expected_version=0)
        b = await store.append(new_stream_id(), messages(2), expected_version=0)

        log = await store.read_all(after=head, limit=10)

        assert [e.global_position for e in log] == [*a.global_positions, *b.global_positions]
        assert [e.global_position for e in await store.read_all(after=head + 1, limit=2)] == [
            head + 2,
            head + 3,
        ]
        # Nothing sealed here (no key ring): read as stored, the log is the same.
        assert await store.read_all_sealed(after=head, limit=10) == log

    async def test_an_event_can_be_found_by_its_id(self, store: EventStore) -> None:
        stream = new_stream_id()
        batch = messages(2)
        result = await store.append(stream, batch, expected_version=0)

        found = await store.find_event(batch[1].event_id)

        assert found is not None
        assert (found.stream_id, found.stream_position) == (stream, 2)
        assert found.global_position == result.last_global_position
        assert await store.find_event(message().event_id) is None

    async def test_an_unknown_stream_is_empty(self, store: EventStore) -> None:
        stream = new_stream_id()
        assert await store.stream_version(stream) == 0
        assert await store.read_stream(stream) == []

    async def test_an_empty_append_is_refused(self, store: EventStore) -> None:
        with pytest.raises(ValueError):
            await store.append(new_stream_id(), [], expected_version=0)

    async def test_the_same_event_twice_in_one_append_is_refused(self, store: EventStore) -> None:
        event = message()
        with pytest.raises(DuplicateEventError):
            await store.append(new_stream_id(), [event, event], expected_version=0)

    async def test_a_waiting_tailer_wakes_up_when_an_event_commits(self, store: EventStore) -> None:
        head = await store.head_position()
        waiter = asyncio.create_task(store.wait_for_events(after=head, timeout=30))
        await asyncio.sleep(0.2)
        assert not waiter.done()  # nothing new yet: it sleeps

        started = time.monotonic()
        await store.append(new_stream_id(), messages(1), expected_version=0)

        assert await waiter is True
        # Woken by the commit, not by the 30 s timeout.
        assert time.monotonic() - started < 10

    async def test_waiting_returns_false_when_nothing_arrives(self, store: EventStore) -> None:
        head = await store.head_position()
        assert await store.wait_for_events(after=head, timeout=0.2) is False
