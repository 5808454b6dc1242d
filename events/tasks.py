"""Two helpers for stopping asyncio work that talks to PostgreSQL or NATS.

Why not a plain ``task.cancel(); await task``: on Python 3.11,
``asyncio.wait_for`` (which nats-py wraps around every request) *loses* a
cancellation that lands in the same loop turn as the reply it awaits: it
returns the reply instead of raising ``CancelledError``. A task that loops
(a heartbeat, a sweeper) then runs on, and whoever awaits it waits for ever.
Python 3.12 fixed ``wait_for``; until 3.11 is gone, cancel with these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

GRACE = 1.0
"""Seconds a cancelled task gets to end before it is cancelled again."""


async def cancel_and_wait(*tasks: asyncio.Future[Any], grace: float = GRACE) -> None:
    """Cancel ``tasks`` and return once every one has ended, cancelling again
    any that is still running ``grace`` seconds later (it lost the
    cancellation). Their results and errors are dropped."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace)
    for task in tasks:  # retrieve the outcomes, so asyncio does not log them
        if not task.cancelled():
            task.exception()


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``await work``, unless ``stop`` is set first (then ``None``; work cancelled)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    await cancel_and_wait(task)
    return None
