"""One reply: prompt → model stream → events, with cancellation as a first-class ending.

``run_response`` emits ``ResponseCreated``, then ``TextDelta``s, then exactly one
``ResponseDone``, whatever happens: completion, a model error, or cancellation of the task that
runs it. On cancellation the done event carries the text emitted so far (what the client
received), then ``CancelledError`` propagates. Closing the model stream stops the model.

With a grounded ``ReplyPlan`` (agent/grounded.py), ``[S1]``-style citation markers are removed
from the deltas before they are sent or spoken, and a ``Citations`` event naming the retrieved
passages the answer used comes right before the done event (also when cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from agent import events as ev
from agent.grounded import ReplyPlan
from agent.grounding import CitationFilter, attribute
from agent.llm.fixed import FixedReply
from agent.llm.protocols import LLM, ChatMessage, GenerationParams, LLMError
from agent.prompt import HistoryItem, build_messages
from agent.speech_out import SpeechOutput
from speech.tts import TTSError

Emit = Callable[[ev.AgentEvent], Awaitable[None]]
"""Delivers one event. Contract: once called, delivery completes even if the caller is
cancelled meanwhile (the cancellation is re-raised after it), so a delta handed to ``emit`` has
been sent and counts in the reply's text."""
Clock = Callable[[], float]

_tracer = trace.get_tracer(__name__)


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
    planner: Callable[[], Awaitable[ReplyPlan]] | None = None,
    clock: Clock = time.perf_counter,
) -> ev.ResponseDone:
    """Generate and emit one reply; returns its ``ResponseDone`` (also emitted).

    With ``speech``, the reply is also spoken: each delta goes to it as it arrives, and the
    done event waits until all of its audio has been sent. ``planner`` (when given) runs right
    after ``ResponseCreated`` (retrieval happens while the client shows "thinking"); its plan
    replaces ``system_prompt`` and may replace the model with a refusal.
    """
    tracker = ResponseTracker(response_id, clock)
    plan: ReplyPlan | None = None
    markers: CitationFilter | None = None
    try:
        await emit(ev.ResponseCreated(response_id, input_item_id))
        if planner is not None:
            plan = await planner()
            system_prompt = plan.system_prompt
            llm = FixedReply(plan.refusal) if plan.refusal is not None else llm
            markers = CitationFilter() if plan.grounded else None
        messages = build_messages(system_prompt, history, history_chars)
        async with contextlib.AsyncExitStack() as stack:
            if speech is not None:
                await stack.enter_async_context(speech)
            done = await _generate(
                llm, messages, params, cache_key, tracker, emit, speech, markers, clock
            )
            if speech is not None and done.status == "completed":
                try:
                    await speech.finish()
                except TTSError as exc:
                    done = tracker.done("failed", f"speech failed: {exc}", "tts_failed")
    except asyncio.CancelledError as exc:
        # task.cancel(msg) names the reason: "client" (response.cancel) or "interrupted".
        done = tracker.done("cancelled", str(exc.args[0]) if exc.args else "cancelled")
        await _emit_citations(plan, markers, tracker, emit)
        await emit(done)
        raise
    await _emit_citations(plan, markers, tracker, emit)
    await emit(done)
    return done


async def _emit_citations(
    plan: ReplyPlan | None, markers: CitationFilter | None, tracker: ResponseTracker, emit: Emit
) -> None:
    if plan is None or markers is None:
        return
    used = attribute(tracker.text, plan.passages, markers.cited) if tracker.text else []
    sources = tuple(ev.CitedSource(c.id, c.chunk_id, c.source, c.title, c.snippet) for c in used)
    await emit(ev.Citations(tracker.response_id, sources))


async def _generate(
    llm: LLM,
    messages: list[ChatMessage],
    params: GenerationParams,
    cache_key: str | None,
    tracker: ResponseTracker,
    emit: Emit,
    speech: SpeechOutput | None,
    markers: CitationFilter | None,
    clock: Clock,
) -> ev.ResponseDone:
    # The span is current while the engine runs, so a remote engine's request carries its
    # traceparent. Attributes: counts and timings only (never the text).
    with _tracer.start_as_current_span(
        "llm.generate", attributes={"llm.engine": llm.name}, record_exception=False
    ) as span:
        started = clock()
        tokens = 0

        async def deliver(text: str) -> None:
            await emit(tracker.delta(text))
            if speech is not None:
                speech.push(text)

        def finish(done: ev.ResponseDone) -> ev.ResponseDone:
            span.set_attributes({"llm.tokens": tokens, "llm.status": done.status})
            if done.error_code is not None:
                span.set_attribute("llm.error_code", done.error_code)
                span.set_status(Status(StatusCode.ERROR, done.error_code))
            return done

        try:
            async with aclosing(llm.stream(messages, params, cache_key=cache_key)) as deltas:
                while True:
                    # Only the model's own failures end the reply as "failed"; a failure to
                    # deliver (lost lease, storage down) propagates to the caller.
                    try:
                        delta = await anext(deltas)
                    except StopAsyncIteration:
                        if markers is not None and (tail := markers.flush()):
                            await deliver(tail)
                        return finish(tracker.done("completed"))
                    except LLMError as exc:
                        return finish(tracker.done("failed", str(exc), exc.code))
                    except Exception as exc:  # an engine bug still ends the reply with done
                        return finish(
                            tracker.done(
                                "failed", f"model error: {type(exc).__name__}", "llm_failed"
                            )
                        )
                    tokens += 1
                    if tokens == 1:
                        first_ms = round((clock() - started) * 1000, 1)
                        span.set_attribute("llm.first_token_ms", first_ms)
                    if markers is None:
                        await deliver(delta)
                    elif visible := markers.feed(delta):  # all marker: nothing is sent
                        await deliver(visible)
        except asyncio.CancelledError:
            span.set_attributes({"llm.tokens": tokens, "llm.status": "cancelled"})
            raise
