"""Stall detection: a consumer behind the head that has not moved is reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parley.status import ConsumerStatus, stalled

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def consumer(name: str, position: int, idle: float) -> ConsumerStatus:
    return ConsumerStatus(name=name, position=position, updated_at=NOW - timedelta(seconds=idle))


def test_caught_up_consumers_are_fine_however_long_idle() -> None:
    consumers = [consumer(n, 100, idle=3600) for n in ("relay", "inbox", "timeline")]
    assert stalled(100, consumers, NOW, stall_seconds=30) == {}


def test_a_consumer_behind_but_moving_is_fine() -> None:
    consumers = [consumer("relay", 100, 0), consumer("inbox", 40, 5), consumer("timeline", 100, 0)]
    assert stalled(100, consumers, NOW, stall_seconds=30) == {}


def test_a_consumer_behind_and_not_moving_is_stuck() -> None:
    consumers = [consumer("relay", 100, 0), consumer("inbox", 40, 31), consumer("timeline", 100, 0)]
    assert stalled(100, consumers, NOW, stall_seconds=30) == {
        "inbox": "stuck at 40 of 100, no progress for 31 s"
    }


def test_a_missing_consumer_matters_only_once_there_are_events() -> None:
    assert stalled(0, [], NOW, stall_seconds=30) == {}
    assert set(stalled(5, [], NOW, stall_seconds=30)) == {"relay", "inbox", "timeline"}
