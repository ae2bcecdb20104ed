"""A "model" that says exactly the given text: for greetings and handoffs (``response.say``)."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence

from agent.llm.protocols import ChatMessage, GenerationParams


class FixedReply:
    name = "fixed"
    ready = True
    queue_depth = 0

    def __init__(self, text: str) -> None:
        self._text = text

    async def start(self) -> None:
        return None

    async def warm(self, messages: Sequence[ChatMessage]) -> None:
        return None

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        for piece in re.findall(r"\s*\S+", self._text):  # word by word, like a model's deltas
            yield piece

    async def aclose(self) -> None:
        return None
