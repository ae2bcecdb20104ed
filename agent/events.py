"""The event vocabulary on the hot path: small frozen dataclasses.

The agent emits these; the server turns them into wire messages. Names are past tense, and
field names are those of the wire events they become.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from speech.timeline import VisemeTiming, WordTiming

ResponseStatus = Literal["completed", "cancelled", "failed"]
InputSource = Literal["text", "voice"]


@dataclass(frozen=True, slots=True)
class InputCommitted:
    """A user turn was accepted and stored; it will be answered. ``replaces``: the same turn,
    extended after a pause, replaces the text committed before under this ``item_id``."""

    item_id: str
    text: str
    source: InputSource
    replaces: bool = False


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """VAD level: the user started speaking (on the input audio clock)."""

    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    """The turn so far: a stable prefix that will not change, and a tail that may."""

    item_id: str
    stable: str
    unstable: str


@dataclass(frozen=True, slots=True)
class TranscriptCompleted:
    """Turn level: the user's turn ended; its final transcript."""

    item_id: str
    text: str
    audio_start_ms: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    """Turn level: the user's turn ended but could not be transcribed (the speech engine
    failed), so nothing was committed: the user should say it again."""

    item_id: str
    audio_start_ms: int
    audio_end_ms: int
    message: str


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str
    input_item_id: str | None
    """The user turn this reply answers; None for ``response.say``."""


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


@dataclass(frozen=True, slots=True)
class ExpressionTiming:
    name: str
    word_index: int
    start_ms: int


@dataclass(frozen=True, slots=True)
class AudioSegment:
    """One spoken segment of a reply: its audio follows as frames of ``stream``. Words, visemes
    and expressions are timed in ms from the segment's first sample (``pts`` in the stream)."""

    response_id: str
    segment_id: int
    stream: int
    pts: int
    sample_rate: int
    samples: int
    text: str
    words: tuple[WordTiming, ...]
    visemes: tuple[VisemeTiming, ...]
    expressions: tuple[ExpressionTiming, ...]
    unknown_phonemes: int = 0
    """Symbols the viseme table lacked (for metrics; not sent)."""


@dataclass(frozen=True, slots=True)
class ResponseTruncated:
    """The client stopped playing a reply early; history keeps ``text``, what was heard."""

    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class CitedSource:
    """A retrieved passage the reply used, by the ``[S1]``-style id it had in the prompt."""

    id: str
    chunk_id: str
    source: str
    title: str
    snippet: str


@dataclass(frozen=True, slots=True)
class Citations:
    """The knowledge-base passages a reply used; sent after its last delta, before its done."""

    response_id: str
    citations: tuple[CitedSource, ...]


AgentEvent = (
    InputCommitted
    | ResponseCreated
    | TextDelta
    | ResponseDone
    | SpeechStarted
    | SpeechStopped
    | TranscriptPartial
    | TranscriptCompleted
    | TranscriptFailed
    | ResponseTruncated
    | AudioSegment
    | Citations
)
