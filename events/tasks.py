"""Helpers for asyncio tasks: stopping work that talks to PostgreSQL or NATS
(``cancel_and_wait``, ``until_stopped``), and starting work at once
(``run_eagerly``).

Why not a plain ``task.cancel(); await task``: on Python 3.11,
``asyncio.wait_for`` (which nats-py wraps around every request) *loses* a
cancellation that lands in the same loop turn as the reply it awaits: it
returns the reply instead of raising ``CancelledError``. A task that loops
(a heartbeat, a sweeper) then runs on, and whoever awaits it waits for ever.
Python 3.12 fixed ``wait_for``; until 3.11 is gone, cancel with these.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine, Generator
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


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``; False if ``stop`` was set (first)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
    return not stop.is_set()


def run_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coro`` now, in the caller's turn of the loop, up to its first
    real wait: ``None`` if it finished without one (what it raised, the
    caller gets), else a task that finishes it.

    ``asyncio.create_task`` would only start it in a later turn; fanning a
    frame out to a hundred sockets that way costs a hundred task wake-ups
    where the sends themselves almost never wait. (Python 3.12 has
    ``asyncio.eager_task_factory`` for this.)"""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_finish(coro, waiting_on))


async def _finish(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    await _Resumed(coro, waiting_on)


class _Resumed:
    """An awaitable that carries on a coroutine someone already started by
    hand: it hands the task what the coroutine was waiting on (as the
    coroutine itself would have), then resumes the coroutine, until it ends."""

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, None, None]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                yield waiting_on
            except BaseException as error:  # thrown in by the task (say, a cancellation)
                try:
                    waiting_on = coro.throw(error)
                except StopIteration:
                    return
                continue
            try:
                waiting_on = coro.send(None)
            except StopIteration:
                return
