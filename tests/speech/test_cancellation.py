"""finish_despite_cancel: the work completes, then the caller's cancellation is delivered."""

from __future__ import annotations

import asyncio

import pytest

from speech.cancellation import finish_despite_cancel


async def test_work_completes_and_the_cancel_is_raised_after_it() -> None:
    steps: list[str] = []
    release = asyncio.Event()

    async def work() -> str:
        steps.append("start")
        await release.wait()
        steps.append("end")
        return "ok"

    caller = asyncio.create_task(finish_despite_cancel(work()))
    await asyncio.sleep(0)
    caller.cancel("stop")
    await asyncio.sleep(0)
    caller.cancel("again")  # a second cancel is also held back
    await asyncio.sleep(0)
    assert not caller.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["start", "end"]


async def test_without_a_cancel_the_result_or_error_of_the_work_is_returned() -> None:
    async def ok() -> int:
        return 7

    async def fails() -> int:
        raise ValueError("boom")

    assert await finish_despite_cancel(ok()) == 7
    with pytest.raises(ValueError, match="boom"):
        await finish_despite_cancel(fails())


async def test_a_failure_during_a_cancel_is_not_left_unretrieved() -> None:
    release = asyncio.Event()

    async def fails_later() -> None:
        await release.wait()
        raise ValueError("late")

    caller = asyncio.create_task(finish_despite_cancel(fails_later()))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
