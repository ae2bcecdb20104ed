"""The contract every language-model engine satisfies.

An engine streams text deltas for a list of chat messages. The consumer stops a generation by
closing the iterator (``aclose()``, e.g. through ``contextlib.aclosing``) or by cancelling the task
that iterates it; the engine must then stop the model itself promptly, not merely stop
forwarding tokens.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int = 160
    temperature: float = 0.6
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    """Generate ``max_tokens`` whatever the model says: for benchmarks and tests."""


class LLMError(Exception):
    """Base of errors an engine raises. ``retryable`` tells the client whether to try again."""

    code = "llm_failed"
    retryable = True


class LLMOverloaded(LLMError):
    """Too many requests are already waiting for the model."""

    code = "llm_overloaded"


class LLMUnavailable(LLMError):
    """The model cannot be reached or is not loaded."""

    code = "llm_unavailable"


class LLM(Protocol):
    """A streaming chat model shared by all sessions of a process."""

    @property
    def name(self) -> str:
        """Engine and model, for logs and the effective configuration."""
        ...

    @property
    def ready(self) -> bool:
        """True once the model can serve requests."""
        ...

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the model right now."""
        ...

    async def start(self) -> None:
        """Load the model or open connections. Called once, before the first ``stream``."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield text deltas of the reply. ``cache_key`` names the conversation, so an engine
        can keep its prompt prefix cached between turns. Raises ``LLMError`` subclasses."""
        ...

    async def warm(self, messages: Sequence[ChatMessage]) -> None:
        """Prepare for prompts that start with ``messages`` (e.g. a persona's system prompt),
        so the first reply of a session does not pay for evaluating them. May do nothing."""
        ...

    async def aclose(self) -> None:
        """Stop all generations and release resources."""
        ...
