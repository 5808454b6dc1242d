"""Task helpers (events/tasks.py): a cancellation that gets lost does not
leave the stopper waiting for ever; eager work runs at once and is finished
by a task only when it has to wait."""

from __future__ import annotations

import asyncio

import pytest

from events.tasks import cancel_and_wait, run_eagerly, until_stopped


async def test_a_looping_task_whose_request_answers_as_it_is_cancelled_still_stops() -> None:
    # The race that hung a test run: the reply to a request arrives in the
    # same loop turn as the cancellation. Python 3.11's wait_for then returns
    # the reply and the loop runs on; cancel_and_wait cancels it again.
    loop = asyncio.get_running_loop()
    reply = loop.create_future()
    rounds = 0

    async def heartbeat() -> None:
        nonlocal rounds
        await asyncio.wait_for(reply, 5)
        while True:
            rounds += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)  # it waits for the reply
    reply.set_result(b"ok")
    async with asyncio.timeout(5):
        await cancel_and_wait(task, grace=0.05)
    assert task.cancelled()


async def test_a_task_that_swallows_one_cancellation_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.02)
    async with asyncio.timeout(5):
        await cancel_and_wait(task, grace=0.05)
    assert task.cancelled()
    assert swallowed == 1


async def test_tasks_that_end_on_the_first_cancellation_get_their_cleanup_time() -> None:
    cleaned = asyncio.Event()

    async def tidy() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.1)  # a cleanup shorter than the grace
            cleaned.set()

    async def failed() -> None:
        raise RuntimeError("boom")

    tasks = [asyncio.create_task(tidy()), asyncio.create_task(failed())]
    await asyncio.sleep(0)
    await cancel_and_wait(*tasks, grace=1.0)
    assert cleaned.is_set()
    assert all(task.done() for task in tasks)


async def test_until_stopped_returns_the_result_or_none_once_stopped() -> None:
    stop = asyncio.Event()
    assert await until_stopped(asyncio.sleep(0, "done"), stop) == "done"

    never = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    assert await until_stopped(never, stop) is None
    assert never.cancelled()


async def test_eager_work_that_never_waits_is_done_when_run_eagerly_returns() -> None:
    done: list[str] = []

    async def write() -> None:
        return None

    async def send() -> None:
        await write()  # an await that does not wait
        done.append("sent")

    assert run_eagerly(send()) is None
    assert done == ["sent"]


async def test_eager_work_that_fails_before_waiting_raises_to_the_caller() -> None:
    async def send() -> None:
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        run_eagerly(send())


async def test_eager_work_that_waits_is_finished_by_a_task_with_what_it_waited_for() -> None:
    writable = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def send() -> None:
        steps.append("started")
        steps.append(await writable)
        await asyncio.sleep(0)  # a plain yield to the loop, too
        steps.append("sent")

    task = run_eagerly(send())
    assert task is not None
    assert steps == ["started"]  # ran up to its wait, in the caller's turn
    writable.set_result("writable")
    await asyncio.wait_for(task, 5)
    assert steps == ["started", "writable", "sent"]


async def test_cancelling_the_task_that_finishes_eager_work_cancels_the_work() -> None:
    never = asyncio.get_running_loop().create_future()
    cleaned_up = False

    async def send() -> None:
        nonlocal cleaned_up
        try:
            await never
        finally:
            cleaned_up = True

    task = run_eagerly(send())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned_up
    assert never.cancelled()
