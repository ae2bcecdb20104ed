"""agent/responder.py: one reply from a scripted model, including errors and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import events as ev
from agent.llm.protocols import (
    LLM,
    ChatMessage,
    GenerationParams,
    LLMError,
    LLMOverloaded,
    LLMUnavailable,
)
from agent.prompt import HistoryItem
from agent.responder import ResponseTracker, run_response
from speech.cancellation import finish_despite_cancel

# ── the fake model ──────────────────────────────────────────────────────────


class ManualClock:
    """Time that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class Advance:
    """Let ``seconds`` pass on the injected clock, yielding to the loop once."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Sleep:
    """Really sleep (the model is computing); cancellation can land here."""

    seconds: float


class Hang:
    """Never produce the next token; only cancellation or closing ends the wait."""


HANG = Hang()

Step = str | Advance | Sleep | Hang | LLMError
Outcome = Literal["pending", "running", "finished", "failed", "closed", "cancelled"]


class ScriptedLLM:
    """A model that plays a script. Satisfies ``agent.llm.protocols.LLM`` structurally."""

    def __init__(self, script: Sequence[Step], clock: ManualClock | None = None) -> None:
        self._script = list(script)
        self._clock = clock or ManualClock()
        self.outcome: Outcome = "pending"
        self.yielded: list[str] = []
        self.requests: list[tuple[list[ChatMessage], GenerationParams]] = []
        self.started = False
        self.closed = False
        self.running = asyncio.Event()

    @property
    def name(self) -> str:
        return "scripted"

    @property
    def ready(self) -> bool:
        return True

    @property
    def queue_depth(self) -> int:
        return 0

    async def start(self) -> None:
        self.started = True

    @property
    def closed_early(self) -> bool:
        """The consumer stopped the stream before the script ended."""
        return self.outcome in ("closed", "cancelled")

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        self.requests.append((list(messages), params))
        self.outcome = "running"
        self.running.set()
        try:
            for step in self._script:
                if isinstance(step, str):
                    self.yielded.append(step)
                    yield step
                elif isinstance(step, Advance):
                    self._clock.advance(step.seconds)
                    await asyncio.sleep(0)
                elif isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Hang):
                    await asyncio.get_running_loop().create_future()
                else:
                    self.outcome = "failed"
                    raise step
            self.outcome = "finished"
        except GeneratorExit:
            self.outcome = "closed"
            raise
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise

    async def aclose(self) -> None:
        self.closed = True


def _as_llm(llm: ScriptedLLM) -> LLM:
    return llm  # checked by mypy: the fake satisfies the protocol


class Recorder:
    """The ``emit`` callback: records each event once it has been delivered."""

    def __init__(self) -> None:
        self.events: list[ev.AgentEvent] = []
        self.delivered_deltas = asyncio.Event()
        self.wait_for = 0

    async def __call__(self, event: ev.AgentEvent) -> None:
        self.events.append(event)
        if isinstance(event, ev.TextDelta) and len(self.deltas) >= self.wait_for:
            self.delivered_deltas.set()

    @property
    def deltas(self) -> list[str]:
        return [e.delta for e in self.events if isinstance(e, ev.TextDelta)]

    @property
    def done(self) -> ev.ResponseDone:
        last = self.events[-1]
        assert isinstance(last, ev.ResponseDone)
        return last


HISTORY = [HistoryItem("item_1", "user", "Hello?")]
PARAMS = GenerationParams(max_tokens=32, temperature=0.0)


async def _run(
    llm: ScriptedLLM,
    recorder: Callable[[ev.AgentEvent], Awaitable[None]],
    clock: ManualClock | None = None,
    history: Sequence[HistoryItem] = HISTORY,
    history_chars: int = 1000,
) -> ev.ResponseDone:
    return await run_response(
        _as_llm(llm),
        system_prompt="You are Ada.",
        history=history,
        response_id="resp_1",
        input_item_id="item_1",
        params=PARAMS,
        history_chars=history_chars,
        emit=recorder,
        clock=clock or ManualClock(),
    )


async def _cancel_after(
    llm: ScriptedLLM, recorder: Recorder, deltas: int, message: str | None = "interrupted"
) -> asyncio.Task[ev.ResponseDone]:
    """Run a reply, cancel it once ``deltas`` deltas were delivered, wait for it to end."""
    recorder.wait_for = deltas
    task = asyncio.create_task(_run(llm, recorder))
    await asyncio.wait_for(recorder.delivered_deltas.wait(), timeout=1.0)
    task.cancel(message)
    await asyncio.wait({task}, timeout=1.0)
    assert task.done()
    return task


# ── completion ──────────────────────────────────────────────────────────────


async def test_completed_reply_emits_created_then_deltas_then_done() -> None:
    llm = ScriptedLLM(["Hel", "lo", " there."])
    recorder = Recorder()

    done = await _run(llm, recorder)

    assert recorder.events == [
        ev.ResponseCreated("resp_1", "item_1"),
        ev.TextDelta("resp_1", "Hel"),
        ev.TextDelta("resp_1", "lo"),
        ev.TextDelta("resp_1", " there."),
        done,
    ]
    assert (done.response_id, done.status, done.text) == ("resp_1", "completed", "Hello there.")
    assert (done.reason, done.error_code) == (None, None)
    assert done.output_tokens == 3
    assert llm.outcome == "finished"


async def test_completed_text_is_joined_and_stripped() -> None:
    recorder = Recorder()

    done = await _run(ScriptedLLM(["\n ", " Hi", " there ", "\n"]), recorder)

    assert done.text == "Hi there"
    assert recorder.deltas == ["\n ", " Hi", " there ", "\n"]


async def test_timings_come_from_the_injected_clock() -> None:
    clock = ManualClock(50.0)
    llm = ScriptedLLM([Advance(0.25), "Hi", Advance(0.5), " you"], clock)

    done = await _run(llm, Recorder(), clock)

    assert done.timings.first_token_ms == pytest.approx(250.0)
    assert done.timings.total_ms == pytest.approx(750.0)


async def test_reply_without_any_delta_completes_empty_with_no_first_token() -> None:
    clock = ManualClock()
    recorder = Recorder()

    done = await _run(ScriptedLLM([Advance(0.1)], clock), recorder, clock)

    assert [type(e) for e in recorder.events] == [ev.ResponseCreated, ev.ResponseDone]
    assert (done.status, done.text, done.output_tokens) == ("completed", "", 0)
    assert done.timings.first_token_ms is None
    assert done.timings.total_ms == pytest.approx(100.0)


async def test_model_receives_system_prompt_history_window_and_params() -> None:
    llm = ScriptedLLM(["ok"])
    history = [
        HistoryItem("i1", "user", "x" * 100),
        HistoryItem("i2", "assistant", "y" * 100),
        HistoryItem("i3", "user", "latest"),
    ]

    await _run(llm, Recorder(), history=history, history_chars=50)

    assert llm.requests == [
        ([ChatMessage("system", "You are Ada."), ChatMessage("user", "latest")], PARAMS)
    ]


async def test_returned_done_is_the_emitted_done() -> None:
    recorder = Recorder()

    done = await _run(ScriptedLLM(["a"]), recorder)

    assert recorder.done is done


# ── model errors ────────────────────────────────────────────────────────────


async def test_model_error_mid_stream_ends_with_failed_done_and_the_partial_text() -> None:
    clock = ManualClock()
    llm = ScriptedLLM(
        ["Par", Advance(0.01), "tial ", LLMOverloaded("queue is full"), "never"], clock
    )
    recorder = Recorder()

    done = await _run(llm, recorder, clock)

    assert [type(e) for e in recorder.events] == [
        ev.ResponseCreated,
        ev.TextDelta,
        ev.TextDelta,
        ev.ResponseDone,
    ]
    assert done.status == "failed"
    assert done.text == "Partial "  # not stripped: exactly what was sent
    assert (done.reason, done.error_code) == ("queue is full", "llm_overloaded")
    assert done.output_tokens == 2
    assert done.timings.first_token_ms == pytest.approx(0.0)
    assert llm.outcome == "failed"


@pytest.mark.parametrize(
    ("error", "code"),
    [(LLMError("boom"), "llm_failed"), (LLMUnavailable("down"), "llm_unavailable")],
)
async def test_model_error_before_first_delta_fails_with_empty_text(
    error: LLMError, code: str
) -> None:
    recorder = Recorder()

    done = await _run(ScriptedLLM([error]), recorder)

    assert [type(e) for e in recorder.events] == [ev.ResponseCreated, ev.ResponseDone]
    assert (done.status, done.text, done.error_code, done.reason) == (
        "failed",
        "",
        code,
        str(error),
    )
    assert done.timings.first_token_ms is None


async def test_failure_to_emit_closes_the_model_stream_and_propagates() -> None:
    class Unreachable(Exception):
        pass

    llm = ScriptedLLM(["a", "b", "c"])
    emitted: list[ev.AgentEvent] = []

    async def emit(event: ev.AgentEvent) -> None:
        if isinstance(event, ev.TextDelta) and event.delta == "b":
            raise Unreachable
        emitted.append(event)

    with pytest.raises(Unreachable):
        await run_response(
            _as_llm(llm),
            system_prompt="s",
            history=HISTORY,
            response_id="r",
            input_item_id="i",
            params=PARAMS,
            history_chars=100,
            emit=emit,
        )

    assert llm.outcome == "closed"
    assert llm.yielded == ["a", "b"]


# ── cancellation ────────────────────────────────────────────────────────────


async def test_cancel_while_the_model_computes_emits_cancelled_done_and_stops_the_model() -> None:
    llm = ScriptedLLM(["Hel", "lo", HANG, " world"])
    recorder = Recorder()

    task = await _cancel_after(llm, recorder, deltas=2)

    assert task.cancelled()
    with pytest.raises(asyncio.CancelledError):
        task.result()
    assert [type(e) for e in recorder.events] == [
        ev.ResponseCreated,
        ev.TextDelta,
        ev.TextDelta,
        ev.ResponseDone,
    ]
    done = recorder.done
    assert (done.status, done.reason, done.error_code) == ("cancelled", "interrupted", None)
    assert done.text == "Hello" == "".join(recorder.deltas)
    assert done.output_tokens == 2
    assert llm.closed_early
    assert llm.yielded == ["Hel", "lo"]


async def test_cancel_during_a_real_sleep_between_deltas_stops_the_model() -> None:
    llm = ScriptedLLM(["One ", Sleep(0.01), "two ", Sleep(0.2), "three"])
    recorder = Recorder()

    task = await _cancel_after(llm, recorder, deltas=2)

    assert task.cancelled()
    assert recorder.done.text == "One two "  # not stripped: exactly what was sent
    assert llm.closed_early
    assert "three" not in llm.yielded


async def test_cancel_before_first_delta_has_empty_text_and_no_first_token() -> None:
    llm = ScriptedLLM([HANG, "never"])
    recorder = Recorder()
    task = asyncio.create_task(_run(llm, recorder))
    await asyncio.wait_for(llm.running.wait(), timeout=1.0)

    task.cancel("client")
    await asyncio.wait({task})

    assert task.cancelled()
    done = recorder.done
    assert (done.status, done.reason, done.text, done.output_tokens) == (
        "cancelled",
        "client",
        "",
        0,
    )
    assert done.timings.first_token_ms is None
    assert llm.closed_early


async def test_cancel_without_a_message_uses_a_generic_reason() -> None:
    llm = ScriptedLLM(["a", HANG])
    recorder = Recorder()

    task = await _cancel_after(llm, recorder, deltas=1, message=None)

    assert task.cancelled()
    assert recorder.done.reason == "cancelled"


async def test_cancel_while_a_delta_is_being_sent_closes_the_model_stream() -> None:
    gate = asyncio.Event()
    llm = ScriptedLLM(["a", "b", "c"])
    events: list[ev.AgentEvent] = []

    async def slow_emit(event: ev.AgentEvent) -> None:
        if isinstance(event, ev.TextDelta) and event.delta == "b":
            gate.set()
            await asyncio.get_running_loop().create_future()  # the socket never drains
        events.append(event)

    task = asyncio.create_task(_run(llm, slow_emit))
    await asyncio.wait_for(gate.wait(), timeout=1.0)
    task.cancel("interrupted")
    await asyncio.wait({task}, timeout=1.0)

    assert task.cancelled()
    assert llm.outcome == "closed"  # suspended at its yield, then closed
    assert llm.yielded == ["a", "b"]
    done = events[-1]
    assert isinstance(done, ev.ResponseDone)
    assert (done.status, done.reason) == ("cancelled", "interrupted")


async def test_a_delta_being_sent_when_the_cancel_lands_counts_as_sent() -> None:
    """The emit contract: once called, delivery completes even if the caller is cancelled
    (SessionRuntime.emit finishes its Redis write and send, then re-raises). So the delta in
    flight is delivered and belongs in the done text, and the done text equals what was sent."""
    gate = asyncio.Event()
    release = asyncio.Event()
    llm = ScriptedLLM(["Hello", " world", " again"])
    delivered: list[ev.AgentEvent] = []

    async def deliver(event: ev.AgentEvent) -> None:
        if isinstance(event, ev.TextDelta) and event.delta == " world":
            gate.set()
            await release.wait()  # the Redis write is in flight
        delivered.append(event)

    async def emit(event: ev.AgentEvent) -> None:
        await finish_despite_cancel(deliver(event))

    task = asyncio.create_task(_run(llm, emit))
    await asyncio.wait_for(gate.wait(), timeout=1.0)
    task.cancel("interrupted")
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait({task}, timeout=1.0)

    done = delivered[-1]
    assert isinstance(done, ev.ResponseDone)
    assert done.status == "cancelled"
    sent = "".join(e.delta for e in delivered if isinstance(e, ev.TextDelta))
    assert sent == "Hello world"
    assert done.text == sent


# ── property: history never holds words the user did not receive ────────────

scripts = st.lists(
    st.tuples(st.text(max_size=8), st.sampled_from(["none", "tick", "sleep"])),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts, st.integers(0, 13), st.integers(0, 3))
async def test_done_text_is_exactly_the_deltas_delivered_before_any_cancel_point(
    script: list[tuple[str, str]], cancel_after: int, extra_ticks: int
) -> None:
    steps: list[Step] = []
    for delta, pause in script:
        if pause == "tick":
            steps.append(Advance(0.001))
        elif pause == "sleep":
            steps.append(Sleep(0))
        steps.append(delta)
    steps.append(HANG)  # the model never finishes by itself: the reply ends by cancellation
    cancel_after = min(cancel_after, len(script))
    llm = ScriptedLLM(steps)
    recorder = Recorder()
    recorder.wait_for = cancel_after
    task = asyncio.create_task(_run(llm, recorder))

    if cancel_after == 0:
        await asyncio.wait_for(llm.running.wait(), timeout=1.0)
    else:
        await asyncio.wait_for(recorder.delivered_deltas.wait(), timeout=1.0)
    for _ in range(extra_ticks):
        await asyncio.sleep(0)
    task.cancel("interrupted")
    await asyncio.wait({task}, timeout=1.0)

    assert task.cancelled()
    assert sum(isinstance(e, ev.ResponseDone) for e in recorder.events) == 1
    assert recorder.events[0] == ev.ResponseCreated("resp_1", "item_1")
    assert len(recorder.deltas) >= cancel_after
    assert recorder.deltas == llm.yielded
    done = recorder.done
    assert (done.status, done.reason) == ("cancelled", "interrupted")
    assert done.text == "".join(recorder.deltas)
    assert done.output_tokens == len(recorder.deltas)
    assert llm.closed_early


# ── ResponseTracker (pure) ──────────────────────────────────────────────────


def test_tracker_counts_deltas_and_keeps_text_unstripped_unless_completed() -> None:
    clock = ManualClock(0.0)
    tracker = ResponseTracker("r", clock)
    clock.advance(0.002)
    assert tracker.delta(" a ") == ev.TextDelta("r", " a ")
    clock.advance(0.003)
    tracker.delta("b ")

    assert tracker.text == " a b "
    completed = tracker.done("completed")
    assert (completed.text, completed.output_tokens) == ("a b", 2)
    assert completed.timings.first_token_ms == pytest.approx(2.0)
    assert completed.timings.total_ms == pytest.approx(5.0)
    assert tracker.done("cancelled", "client").text == " a b "
    assert tracker.done("failed", "x", "llm_failed").text == " a b "
