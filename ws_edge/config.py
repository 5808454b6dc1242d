"""The edge's tunables (from Settings in the composition root)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    heartbeat_seconds: float = 30.0
    """A HEARTBEAT frame every interval; silence for two intervals closes 4001."""
    queue_size: int = 1000
    """Frames waiting for one socket before it counts as a slow consumer (4000)."""
    close_timeout: float = 5.0
    """How long a closing frame may wait for a client that reads nothing
    (a stuck slow consumer, a vanished network) before the socket is dropped."""
    max_frame_bytes: int = 64 * 1024
    typing_timeout: float = 15.0
    """An indicator ends when its typist sent no TYPING_START for this long."""
    typing_keepalive: float = 5.0
    """How often the typist's node refreshes a live indicator on the other nodes."""
    typing_expiry: float = 15.0
    """Other nodes end an indicator not refreshed for this long (its node died)."""
    messages_per_minute: int = 100
    typing_per_minute: int = 10
    max_sockets_per_user: int = 20
    """Open sockets one user may hold on this node; one more is refused (4409)."""
    max_subscriptions: int = 100
    """Conversations an inbox socket may SUBSCRIBE to (ERROR too_many_subscriptions)."""
    connects_per_minute: int = 600
    """Upgrade attempts one IP address may make per minute on this node (4429)."""

    @classmethod
    def scaled(
        cls, *, typing_timeout: float, heartbeat_seconds: float, **limits: int
    ) -> EdgeConfig:
        """Typing refresh (a third of the timeout, at most 5 s) and expiry
        scaled to ``typing_timeout``; ``limits`` as the fields above."""
        return cls(
            **limits,
            heartbeat_seconds=heartbeat_seconds,
            typing_timeout=typing_timeout,
            typing_keepalive=min(5.0, typing_timeout / 3),
            typing_expiry=typing_timeout,
        )
