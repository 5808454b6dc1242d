"""The edge's tunables (from Settings in the composition root)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    heartbeat_seconds: float = 30.0
    """A HEARTBEAT frame every interval; silence for two intervals closes 4001."""
    queue_size: int = 1000
    """Frames waiting for one socket before it counts as a slow consumer (4000)."""
    max_frame_bytes: int = 64 * 1024
    typing_timeout: float = 15.0
    """An indicator ends when its typist sent no TYPING_START for this long."""
    typing_keepalive: float = 5.0
    """How often the typist's node refreshes a live indicator on the other nodes."""
    typing_expiry: float = 15.0
    """Other nodes end an indicator not refreshed for this long (its node died)."""
    messages_per_minute: int = 100
    typing_per_minute: int = 10

    @classmethod
    def scaled(cls, *, typing_timeout: float, heartbeat_seconds: float) -> EdgeConfig:
        """Typing refresh (a third of the timeout, at most 5 s) and expiry
        scaled to ``typing_timeout``."""
        return cls(
            heartbeat_seconds=heartbeat_seconds,
            typing_timeout=typing_timeout,
            typing_keepalive=min(5.0, typing_timeout / 3),
            typing_expiry=typing_timeout,
        )
