"""Scripted stand-ins for the model, for deterministic unit tests of what surrounds it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence

from agent.llm.protocols import ChatMessage, GenerationParams


class ScriptedLLM:
    """An LLM whose reply to a prompt is ``script(messages)``, one delta per item; it records
    the prompt of every request in ``prompts``."""

    name = "scripted"
    ready = True
    queue_depth = 0

    def __init__(self, script: Callable[[Sequence[ChatMessage]], Sequence[str]]) -> None:
        self.script = script
        self.prompts: list[list[ChatMessage]] = []

    @classmethod
    def saying(cls, *deltas: str) -> ScriptedLLM:
        """Always answers with these deltas."""
        return cls(lambda _: deltas)

    @property
    def messages(self) -> list[ChatMessage]:
        """The prompt of the latest request (empty before any)."""
        return self.prompts[-1] if self.prompts else []

    async def start(self) -> None: ...

    async def warm(self, messages: Sequence[ChatMessage]) -> None: ...

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        self.prompts.append(list(messages))
        for delta in self.script(messages):
            yield delta

    async def aclose(self) -> None: ...
