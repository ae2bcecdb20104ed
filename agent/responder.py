"""One reply: prompt → model stream → events, with cancellation as a first-class ending.

``run_response`` emits ``ResponseCreated``, then ``TextDelta``s, then exactly one
``ResponseDone``, whatever happens: completion, a model error, or cancellation of the task that
runs it. On cancellation the done event carries the text emitted so far (what the client
received), then ``CancelledError`` propagates. Closing the model stream stops the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

from agent import events as ev
from agent.llm.protocols import LLM, ChatMessage, GenerationParams, LLMError
from agent.prompt import HistoryItem, build_messages
from agent.speech_out import SpeechOutput
from speech.tts import TTSError

Emit = Callable[[ev.AgentEvent], Awaitable[None]]
"""Delivers one event. Contract: once called, delivery completes even if the caller is
cancelled meanwhile (the cancellation is re-raised after it), so a delta handed to ``emit`` has
been sent and counts in the reply's text."""
Clock = Callable[[], float]


class ResponseTracker:
    """Accumulates what a reply has delivered and builds its final event (pure)."""

    def __init__(self, response_id: str, clock: Clock) -> None:
        self.response_id = response_id
        self._clock = clock
        self._started = clock()
        self._first_token: float | None = None
        self._parts: list[str] = []

    def delta(self, text: str) -> ev.TextDelta:
        if self._first_token is None:
            self._first_token = self._clock()
        self._parts.append(text)
        return ev.TextDelta(self.response_id, text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def done(
        self,
        status: ev.ResponseStatus,
        reason: str | None = None,
        error_code: str | None = None,
    ) -> ev.ResponseDone:
        now = self._clock()
        first = None if self._first_token is None else (self._first_token - self._started) * 1000
        text = self.text.strip() if status == "completed" else self.text
        return ev.ResponseDone(
            self.response_id,
            status,
            text,
            len(self._parts),
            ev.ResponseTimings(first, (now - self._started) * 1000),
            reason,
            error_code,
        )


async def run_response(
    llm: LLM,
    *,
    system_prompt: str,
    history: Sequence[HistoryItem],
    response_id: str,
    input_item_id: str | None,
    params: GenerationParams,
    history_chars: int,
    emit: Emit,
    cache_key: str | None = None,
    speech: SpeechOutput | None = None,
    clock: Clock = time.perf_counter,
) -> ev.ResponseDone:
    """Generate and emit one reply; returns its ``ResponseDone`` (also emitted).

    With ``speech``, the reply is also spoken: each delta goes to it as it arrives, and the
    done event waits until all of its audio has been sent.
    """
    tracker = ResponseTracker(response_id, clock)
    messages = build_messages(system_prompt, history, history_chars)
    try:
        await emit(ev.ResponseCreated(response_id, input_item_id))
        async with contextlib.AsyncExitStack() as stack:
            if speech is not None:
                await stack.enter_async_context(speech)
            done = await _generate(llm, messages, params, cache_key, tracker, emit, speech)
            if speech is not None and done.status == "completed":
                try:
                    await speech.finish()
                except TTSError as exc:
                    done = tracker.done("failed", f"speech failed: {exc}", "tts_failed")
    except asyncio.CancelledError as exc:
        # task.cancel(msg) names the reason: "client" (response.cancel) or "interrupted".
        done = tracker.done("cancelled", str(exc.args[0]) if exc.args else "cancelled")
        await emit(done)
        raise
    await emit(done)
    return done


async def _generate(
    llm: LLM,
    messages: list[ChatMessage],
    params: GenerationParams,
    cache_key: str | None,
    tracker: ResponseTracker,
    emit: Emit,
    speech: SpeechOutput | None,
) -> ev.ResponseDone:
    async with aclosing(llm.stream(messages, params, cache_key=cache_key)) as deltas:
        while True:
            # Only the model's own failures end the reply as "failed"; a failure to deliver
            # (lost lease, storage down) propagates to the caller.
            try:
                delta = await anext(deltas)
            except StopAsyncIteration:
                return tracker.done("completed")
            except LLMError as exc:
                return tracker.done("failed", str(exc), exc.code)
            except Exception as exc:  # an engine bug still ends the reply with done
                return tracker.done("failed", f"model error: {type(exc).__name__}", "llm_failed")
            await emit(tracker.delta(delta))
            if speech is not None:
                speech.push(delta)
