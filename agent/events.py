"""The event vocabulary on the hot path: small frozen dataclasses.

The agent emits these; the server turns them into wire messages. Names are past tense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ResponseStatus = Literal["completed", "cancelled", "failed"]
InputSource = Literal["text", "voice"]


@dataclass(frozen=True, slots=True)
class InputCommitted:
    """A user turn was accepted and stored; it will be answered."""

    item_id: str
    text: str
    source: InputSource


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str
    input_item_id: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    response_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseTimings:
    first_token_ms: float | None
    total_ms: float


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """A response ended. ``text`` is what the user received, which history keeps."""

    response_id: str
    status: ResponseStatus
    text: str
    output_tokens: int
    timings: ResponseTimings
    reason: str | None = None
    error_code: str | None = None


AgentEvent = InputCommitted | ResponseCreated | TextDelta | ResponseDone
