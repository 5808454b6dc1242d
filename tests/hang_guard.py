"""A hung asynchronous test fails alone, saying where every task waits.

pytest-timeout (``pyproject.toml``) is the backstop: its thread method dumps
the threads' stacks and ends the whole run, and a thread's stack shows only
the event loop waiting in ``select``. Before it fires, this guard prints every
asyncio task's stack (the awaits where each coroutine is parked) and cancels
the test's own task, so the test fails with a traceback through the await
that never returned and the run goes on with the next test.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

HUNG_AFTER = 240.0
"""Seconds an asynchronous test may run (pytest-timeout ends the run at 300)."""


def _dump_and_cancel(name: str) -> None:
    out = sys.__stderr__
    assert out is not None
    print(f"\n=== hang guard: {name} still running after {HUNG_AFTER:g} s ===", file=out)
    for task in asyncio.all_tasks():
        print(f"--- {task!r}", file=out)
        task.print_stack(file=out)
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        if getattr(coro, "__name__", None) == name:
            task.cancel(f"hang guard: no progress for {HUNG_AFTER:g} s")
    out.flush()


@pytest.fixture(autouse=True)
async def hang_guard(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Armed for each test; fires only while the loop runs that test."""
    name = request.node.originalname or request.node.name
    timer = asyncio.get_running_loop().call_later(HUNG_AFTER, _dump_and_cancel, name)
    try:
        yield
    finally:
        timer.cancel()
