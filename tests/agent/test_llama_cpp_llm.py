"""The embedded engine with the real SmolLM2-135M model: streaming, cancellation, queueing.

One engine (``workers=1``) is loaded for the module and shared by the tests that need no special
configuration; the others build their own, which takes well under a second. Nothing here depends
on the model's wording, only on how many deltas arrive, when, and in which order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest
import pytest_asyncio

from agent.llm.llama_cpp_llm import LlamaCppLLM, smollm2_model_path
from agent.llm.protocols import (
    ChatMessage,
    GenerationParams,
    LLMError,
    LLMOverloaded,
    LLMUnavailable,
)

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

GREETING = [ChatMessage("user", "Say hello in one short sentence.")]
STORY = [ChatMessage("user", "Write a very long story about a dragon who learns to cook.")]
# 400 tokens at a high temperature: several seconds of work, far more than any test waits for.
LONG = GenerationParams(max_tokens=400, temperature=1.5)
SHORT = GenerationParams(max_tokens=8, temperature=0.0)
SETTLE_S = 0.3


def new_engine(*, workers: int = 1, max_queue: int = 64) -> LlamaCppLLM:
    # One thread per context: llama.cpp's threads spin while they wait for each other, so two of
    # them on a two-core machine shared with other work run many times slower, not a little.
    return LlamaCppLLM(
        smollm2_model_path(),
        workers=workers,
        slots=workers,  # one context per worker keeps these tests small
        threads_per_worker=1,
        context_tokens=1024,
        max_queue=max_queue,
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def llm() -> AsyncIterator[LlamaCppLLM]:
    engine = new_engine()
    await engine.start()
    # Page the weights in once, so that the first test does not pay for a cold start.
    async for _ in engine.stream(GREETING, GenerationParams(max_tokens=1)):
        pass
    yield engine
    await engine.aclose()


@contextlib.asynccontextmanager
async def fresh_engine(*, workers: int, max_queue: int = 64) -> AsyncIterator[LlamaCppLLM]:
    """An engine of its own, for tests that need an idle one or a special configuration."""
    engine = new_engine(workers=workers, max_queue=max_queue)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.aclose()


async def settled_count(engine: LlamaCppLLM, *, timeout: float = 2.0) -> int:
    """Wait until ``tokens_generated`` has not moved for ``SETTLE_S``; return it."""
    deadline = time.monotonic() + timeout
    count = engine.tokens_generated
    while time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_S)
        if engine.tokens_generated == count:
            return count
        count = engine.tokens_generated
    pytest.fail(f"the model kept generating for {timeout} s after the stream was stopped")


async def first_delta_latency(engine: LlamaCppLLM) -> float:
    """Seconds until a new request gets its first delta."""
    start = time.monotonic()
    stream = engine.stream(GREETING, SHORT)
    try:
        await anext(stream)
        return time.monotonic() - start
    finally:
        await stream.aclose()


async def test_a_simple_chat_streams_non_empty_text(llm: LlamaCppLLM) -> None:
    before = llm.tokens_generated

    deltas = [d async for d in llm.stream(GREETING, GenerationParams(max_tokens=24))]

    assert deltas
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip()
    assert llm.tokens_generated - before == len(deltas)
    assert llm.queue_depth == 0


async def test_stream_before_start_raises_unavailable() -> None:
    engine = LlamaCppLLM(smollm2_model_path(), workers=1, slots=1)
    assert not engine.ready

    with pytest.raises(LLMUnavailable):
        await anext(engine.stream(GREETING, SHORT))
    await engine.aclose()


async def test_a_missing_model_file_raises_unavailable_on_start(tmp_path: Path) -> None:
    engine = LlamaCppLLM(tmp_path / "missing.gguf", workers=1, slots=1)

    with pytest.raises(LLMUnavailable, match=r"missing\.gguf"):
        await engine.start()
    assert not engine.ready
    await engine.aclose()


async def test_a_prompt_longer_than_the_context_raises_llm_error_and_frees_it(
    llm: LlamaCppLLM,
) -> None:
    too_long = [ChatMessage("user", "hello " * 1500)]

    with pytest.raises(LLMError, match="generation failed"):
        async for _ in llm.stream(too_long, SHORT):
            pass

    assert await first_delta_latency(llm) < 1.0


async def test_closing_the_stream_stops_the_model(llm: LlamaCppLLM) -> None:
    before = llm.tokens_generated
    stream = llm.stream(STORY, LONG)
    for _ in range(3):
        await anext(stream)

    await stream.aclose()
    at_close = llm.tokens_generated

    final = await settled_count(llm)
    # The worker checks the flag between tokens: at most the one in flight gets through.
    assert final - at_close <= 2
    assert final - before < 50
    # The only context is free again: no waiting for the rest of the 400-token reply.
    assert await first_delta_latency(llm) < 1.0


async def test_cancelling_the_consuming_task_stops_the_model(llm: LlamaCppLLM) -> None:
    before = llm.tokens_generated
    got_three = asyncio.Event()
    received: list[str] = []

    async def consume() -> None:
        async for delta in llm.stream(STORY, LONG):
            received.append(delta)
            if len(received) == 3:
                got_three.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_three.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    at_cancel = llm.tokens_generated

    final = await settled_count(llm)
    assert final - at_cancel <= 2
    assert final - before < 50
    assert await first_delta_latency(llm) < 1.0


async def test_one_worker_serves_requests_first_come_first_served() -> None:
    events: list[str] = []

    async def consume(engine: LlamaCppLLM, name: str) -> None:
        first = True
        async for _ in engine.stream(GREETING, SHORT):
            if first:
                events.append(f"first {name}")
                first = False
        events.append(f"end {name}")

    async with fresh_engine(workers=1) as engine, asyncio.TaskGroup() as group:
        for name in "ABC":
            group.create_task(consume(engine, name))
            await asyncio.sleep(0)  # let it reach the queue before the next one arrives
        assert engine.queue_depth == 2

    assert events == ["first A", "end A", "first B", "end B", "first C", "end C"]


async def test_a_request_beyond_max_queue_is_refused_while_one_runs_and_one_waits() -> None:
    async with fresh_engine(workers=1, max_queue=1) as engine:
        running = engine.stream(STORY, LONG)
        await anext(running)
        waiting = asyncio.create_task(_first_delta(engine.stream(GREETING, SHORT)))
        await asyncio.sleep(0)  # let it reach the queue
        assert engine.queue_depth == 1

        with pytest.raises(LLMOverloaded):
            await anext(engine.stream(GREETING, SHORT))

        # Once the running reply is closed, the waiting one gets the context.
        await running.aclose()
        assert await asyncio.wait_for(waiting, timeout=5)
        assert engine.queue_depth == 0


async def test_closing_the_engine_stops_running_generations() -> None:
    engine = new_engine()
    await engine.start()
    stream = engine.stream(STORY, LONG)
    await anext(stream)

    await engine.aclose()
    rest = await asyncio.wait_for(_drain(stream), timeout=1.0)

    assert len(rest) < 10
    assert not engine.ready


async def _drain(stream: AsyncIterator[str]) -> list[str]:
    return [delta async for delta in stream]


async def _first_delta(stream: AsyncGenerator[str, None]) -> str:
    async with contextlib.aclosing(stream):
        return await anext(stream)


async def test_a_conversation_returns_to_its_cached_context_between_turns() -> None:
    engine = LlamaCppLLM(
        smollm2_model_path(), workers=1, slots=2, threads_per_worker=1, max_queue=4
    )
    await engine.start()
    try:
        history = [ChatMessage("system", "You are terse."), ChatMessage("user", "Hi there!")]
        for key in ("alice", "bob", "alice", "bob"):
            async with aclosing(
                engine.stream(history, GenerationParams(max_tokens=4), cache_key=key)
            ) as deltas:
                async for _ in deltas:
                    pass
        assert engine.cache_hits == 2, "each conversation found its own context again"
    finally:
        await engine.aclose()
