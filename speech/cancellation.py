"""Cancellation helpers for work that must not be cut in half."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def finish_despite_cancel(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile, then re-raise.

    For steps that must happen whole, such as writing an event to the log and sending it: a
    cancellation that lands mid-way is delivered after the step instead of inside it.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.cancelled():  # the work itself was cancelled, not just the caller
                raise
            cancelled = exc
        except BaseException:
            break  # the work failed: reported below
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: the caller's cancellation takes precedence
        raise cancelled
    return task.result()
