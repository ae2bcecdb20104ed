"""A streaming client for OpenAI-compatible chat servers: vLLM, llama.cpp's server, Ollama.

Replies stream over server-sent events from ``POST {base_url}/chat/completions``. Closing the
stream closes the HTTP connection, which makes vLLM and llama.cpp abort the generation (for
llama-cpp-python's server, start it with ``--interrupt_requests False`` so that concurrent
requests do not abort each other). At most ``max_queue`` requests are in flight at once.

Each request carries the W3C ``traceparent`` of the current span (the reply's ``llm.generate``)
when the process traces, so a traced vLLM's spans join the turn's trace.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx
from opentelemetry import propagate

from agent.llm.protocols import (
    ChatMessage,
    GenerationParams,
    LLMError,
    LLMOverloaded,
    LLMUnavailable,
)


class OpenAICompatLLM:
    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_queue: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._max_in_flight = max_queue
        self._in_flight = 0
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            transport=transport,
        )
        self._ready = False

    @property
    def name(self) -> str:
        return f"openai:{self._model}@{self._base_url}"

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def queue_depth(self) -> int:
        return self._in_flight

    async def start(self) -> None:
        """Mark ready. The server may start later than us; requests fail with LLMUnavailable."""
        self._ready = True

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        if self._in_flight >= self._max_in_flight:
            raise LLMOverloaded(f"{self._in_flight} requests already in flight")
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.ignore_eos:  # vLLM and llama.cpp's server accept it
            body["ignore_eos"] = True
        if cache_key:  # vLLM caches prefixes by itself; "user" helps servers that route by it
            body["user"] = cache_key
        headers: dict[str, str] = {}
        propagate.inject(headers)  # traceparent (and baggage); nothing when not tracing
        self._in_flight += 1
        try:
            async with self._client.stream(
                "POST", "/chat/completions", json=body, headers=headers
            ) as response:
                if response.status_code != 200:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    error = LLMOverloaded if response.status_code in (429, 503) else LLMError
                    raise error(f"HTTP {response.status_code} from the model server: {detail}")
                async for line in response.aiter_lines():
                    delta = _parse_sse_line(line)
                    if delta is _DONE:
                        return
                    if delta:
                        yield str(delta)
        except httpx.TransportError as exc:
            raise LLMUnavailable(f"model server unreachable at {self._base_url}: {exc}") from exc
        finally:
            self._in_flight -= 1

    async def warm(self, messages: Sequence[ChatMessage]) -> None:
        """Nothing to do: vLLM and llama.cpp's server cache prompt prefixes themselves."""

    async def aclose(self) -> None:
        self._ready = False
        await self._client.aclose()


_DONE = object()


def _parse_sse_line(line: str) -> object:
    """Return the text delta of one SSE line, ``_DONE`` at the end, or None for anything else."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise LLMError(f"malformed stream chunk: {data[:100]}")
    if "error" in chunk:
        raise LLMError(f"model server error: {str(chunk['error'])[:200]}")
    choices = chunk.get("choices") or []
    if not choices:
        return None
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise LLMError(f"malformed stream chunk: {data[:100]}")
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else None
