"""Where a socket starts: the ``after`` (``after_position``) of its URL.

A whole number replays what came after it; ``now`` starts at the head (no
replay, READY says where that is). A position beyond the head cannot have
been seen: refused, rather than silently dropping every live event below it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

NOW = "now"
_MAX_DIGITS = 19  # a bigint's worth; longer is beyond any head


class BadStart(Exception):
    """The start position is not one the socket can open at (close 4400;
    the message is the close reason: under 123 bytes)."""


async def start_at(raw: str | None, name: str, head: Callable[[], Awaitable[int]]) -> int:
    """The position to replay after, from the query parameter ``name``'s
    ``raw`` value; ``head`` reads the current head (when it is needed)."""
    if raw is None:
        return 0
    if raw == NOW:
        return await head()
    if not (raw.isascii() and raw.isdigit()):
        raise BadStart(f"{name} must be a whole number or {NOW!r}")
    after = int(raw) if len(raw) <= _MAX_DIGITS else None
    if after == 0:
        return 0
    last = await head()
    if after is None or after > last:
        raise BadStart(f"{name}={raw[:_MAX_DIGITS]} is beyond the head ({last})")
    return after
