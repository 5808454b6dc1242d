"""Sliding-window rate limits: per key and kind, with a retry-after."""

from __future__ import annotations

from ws_edge.ratelimit import WINDOW, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_call_over_the_limit_is_refused_with_the_time_until_one_is_allowed() -> None:
    clock = Clock()
    limiter = RateLimiter({"connect": 3}, clock=clock)
    for _ in range(3):
        assert limiter.take("10.0.0.1", "connect") is None
        clock.now += 1
    assert limiter.take("10.0.0.1", "connect") == WINDOW - 3
    assert limiter.take("10.0.0.2", "connect") is None  # other keys are unaffected


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter({"message": 2}, clock=clock)
    limiter.take("ann", "message")
    clock.now += 30
    limiter.take("ann", "message")
    assert limiter.take("ann", "message") is not None
    clock.now += 30.5  # the first one has left the window
    assert limiter.take("ann", "message") is None


def test_keys_seen_once_are_forgotten_after_a_window() -> None:
    clock = Clock()
    limiter = RateLimiter({"connect": 5}, clock=clock)
    for address in range(1000):
        limiter.take(f"10.0.{address // 256}.{address % 256}", "connect")
    assert limiter.tracked == 1000
    clock.now += WINDOW + 1
    limiter.take("10.9.9.9", "connect")
    assert limiter.tracked == 1  # the 1000 addresses seen a window ago are forgotten
