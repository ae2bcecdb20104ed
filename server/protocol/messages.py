"""WebSocket protocol v1: every JSON message, as pydantic models.

Client messages are commands (imperative names); server messages are events (past tense, plus
``error`` and ``pong``). Each server event carries ``seq``, increasing by one per event over the
session's whole life, across reconnects and server processes. docs/protocol.md describes each
message with an example; docs/protocol.schema.json is exported from these models and a test fails
when the two drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

PROTOCOL_VERSION = "1"
SUPPORTED_VERSIONS = frozenset({PROTOCOL_VERSION})

EventId = Annotated[str, Field(max_length=64, description="Client-chosen id, echoed in errors.")]


class _Message(BaseModel):
    """Client messages: unknown fields are refused, so typos surface as errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    """Server messages: clients must ignore fields they do not know (additive evolution), and
    the exported schema marks every field the server always sends as required."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_serialization_defaults_required=True
    )


# ───────────────────────────── client → server ─────────────────────────────


class Capabilities(_Message):
    """What a client can do. The server answers with what it grants."""

    text: bool = True
    audio_in: bool = False
    audio_out: bool = False
    visemes: bool = False


class ClientInfo(_Message):
    name: str = Field(max_length=64)
    version: str = Field("", max_length=32)


class SessionStart(_Message):
    """First message of a new session."""

    type: Literal["session.start"] = "session.start"
    event_id: EventId | None = None
    protocol_version: str = Field(max_length=16)
    capabilities: Capabilities = Capabilities()
    persona: str | None = Field(None, max_length=64)
    client: ClientInfo | None = None


class SessionResume(_Message):
    """First message of a reconnect: continue a session and receive the events missed."""

    type: Literal["session.resume"] = "session.resume"
    event_id: EventId | None = None
    protocol_version: str = Field(max_length=16)
    session_id: str = Field(max_length=64)
    resume_token: str = Field(max_length=128)
    last_seq: int = Field(ge=0, description="Highest seq the client has received.")
    capabilities: Capabilities = Capabilities()
    client: ClientInfo | None = None


class InputText(_Message):
    """A typed user turn. Interrupts the reply in progress, if any, and is answered."""

    type: Literal["input.text"] = "input.text"
    event_id: EventId | None = None
    text: str = Field(min_length=1)


class ResponseCancel(_Message):
    """Stop the reply in progress (or the one named); the model stops generating."""

    type: Literal["response.cancel"] = "response.cancel"
    event_id: EventId | None = None
    response_id: str | None = Field(None, max_length=64)


class PlaybackStopped(_Message):
    """The client stopped playing a reply before its end (barge-in, cancel, a page closed),
    after ``played_ms`` of its audio or ``played_chars`` of its text (give one). History keeps
    only the whole words heard; the server confirms with ``response.truncated``. Stops the
    reply if it still runs."""

    type: Literal["playback.stopped"] = "playback.stopped"
    event_id: EventId | None = None
    response_id: str = Field(max_length=64)
    played_ms: int | None = Field(None, ge=0)
    played_chars: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_position(self) -> PlaybackStopped:
        if (self.played_ms is None) == (self.played_chars is None):
            raise ValueError("give exactly one of played_ms and played_chars")
        return self


class PlaybackPosition(_Message):
    """Progress of the reply's audio at the client (every few hundred ms while playing): the
    server sends audio only a bounded time ahead of it. ``underruns`` counts the times the
    client's buffer ran dry during this reply (for the server's metrics)."""

    type: Literal["playback.position"] = "playback.position"
    event_id: EventId | None = None
    response_id: str = Field(max_length=64)
    played_ms: int = Field(ge=0)
    underruns: int = Field(
        0,
        ge=0,
        description="Jitter-buffer underruns so far while playing this reply (cumulative).",
    )


class ResponseSay(_Message):
    """Speak this text exactly, without the model (greetings, handoffs). Interrupts any reply."""

    type: Literal["response.say"] = "response.say"
    event_id: EventId | None = None
    text: str = Field(min_length=1)


class Ping(_Message):
    """Heartbeat; the server answers ``pong``. Any message resets the idle timer."""

    type: Literal["ping"] = "ping"
    event_id: EventId | None = None


ClientCommand = (
    SessionStart
    | SessionResume
    | InputText
    | ResponseCancel
    | ResponseSay
    | PlaybackStopped
    | PlaybackPosition
    | Ping
)
ClientMessage = Annotated[ClientCommand, Field(discriminator="type")]
CLIENT_MESSAGE_TYPES: dict[str, type[_Message]] = {
    "session.start": SessionStart,
    "session.resume": SessionResume,
    "input.text": InputText,
    "response.cancel": ResponseCancel,
    "playback.stopped": PlaybackStopped,
    "playback.position": PlaybackPosition,
    "response.say": ResponseSay,
    "ping": Ping,
}


# ───────────────────────────── server → client ─────────────────────────────


class ServerEvent(_Out):
    seq: int = Field(
        ge=0,
        description=(
            "Per-session event number, +1 per event. 0 marks notices outside the numbered "
            "stream: before a session exists, or after this server lost the session."
        ),
    )
    session_id: str | None = None


class PersonaAvatar(_Out):
    """The persona's 3D model, as its file names it."""

    url: str = Field(
        description=(
            "An http(s) URL, or a path on this server such as /avatars/ada.glb (resolve it "
            "against the server's HTTP origin, not the embedding page's)."
        )
    )
    format: Literal["default", "glb", "vrm"] = Field(
        description=(
            "glb: glTF binary; vrm: VRM 0.x/1.0; default: not declared, the client detects it."
        )
    )


class PersonaInfo(_Out):
    id: str
    name: str
    version: str
    avatar: PersonaAvatar | None = Field(
        None, description="The avatar to show; null: the client's own default."
    )


class AudioFormat(_Out):
    enabled: bool
    encoding: Literal["pcm16"] = "pcm16"
    sample_rate: int
    channels: Literal[1] = 1


class EffectiveLimits(_Out):
    max_text_frame_bytes: int
    max_binary_frame_bytes: int
    max_input_chars: int
    messages_per_second: float
    message_burst: int


class EffectiveConfig(_Out):
    """The configuration in force for this session, as the server applies it."""

    persona: PersonaInfo
    llm: str
    capabilities: Capabilities
    audio_in: AudioFormat
    audio_out: AudioFormat
    heartbeat_interval_s: float
    idle_timeout_s: float
    resume_ttl_s: int
    limits: EffectiveLimits


class ServerInfo(_Out):
    version: str
    instance: str


class HistoryEntry(_Out):
    item_id: str
    role: Literal["user", "assistant"]
    text: str


class ReplayInfo(_Out):
    from_seq: int = Field(description="First replayed seq (last_seq + 1).")
    count: int = Field(description="Events replayed before this one.")
    gap: bool = Field(description="True if events the client missed had expired; see history.")


class SessionStarted(ServerEvent):
    type: Literal["session.started"] = "session.started"
    protocol_version: str
    resume_token: str
    config: EffectiveConfig
    server: ServerInfo


class SessionResumed(ServerEvent):
    """Sent after the replayed events, so seq stays monotonic for the client."""

    type: Literal["session.resumed"] = "session.resumed"
    protocol_version: str
    resume_token: str = Field(description="A new token; the previous one no longer works.")
    config: EffectiveConfig
    server: ServerInfo
    replay: ReplayInfo
    history: list[HistoryEntry] | None = Field(
        None,
        description="The last 50 messages of the conversation; only when replay.gap is true.",
    )


class InputCommitted(ServerEvent):
    """The user's turn is stored durably and will be answered."""

    type: Literal["input.committed"] = "input.committed"
    item_id: str
    text: str
    source: Literal["text", "voice"]
    replaces: bool = Field(
        False,
        description=(
            "True when a voice turn resumed after a pause: this text replaces the text committed "
            "earlier under the same item_id."
        ),
    )


class SpeechStarted(ServerEvent):
    """VAD level: the user started speaking. Sent before the turn ends, so the avatar can show
    it is listening. ``audio_start_ms`` is on the input audio clock (ms since the stream began)."""

    type: Literal["input_audio.speech_started"] = "input_audio.speech_started"
    item_id: str
    audio_start_ms: int


class SpeechStopped(ServerEvent):
    """VAD level: a pause began. The turn may still go on; see transcript.completed."""

    type: Literal["input_audio.speech_stopped"] = "input_audio.speech_stopped"
    item_id: str
    audio_end_ms: int


class TranscriptPartial(ServerEvent):
    """The turn so far: ``stable`` will not change; ``unstable`` may."""

    type: Literal["input_audio.transcript.partial"] = "input_audio.transcript.partial"
    item_id: str
    stable: str
    unstable: str


class TranscriptCompleted(ServerEvent):
    """Turn level: the user's turn ended; its final transcript. ``input.committed`` follows."""

    type: Literal["input_audio.transcript.completed"] = "input_audio.transcript.completed"
    item_id: str
    text: str
    audio_start_ms: int
    audio_end_ms: int


class TranscriptFailed(ServerEvent):
    """The turn ended but could not be transcribed; nothing was committed. Ask the user to say
    it again. ``code`` is ``asr_failed``."""

    type: Literal["input_audio.transcript.failed"] = "input_audio.transcript.failed"
    item_id: str
    audio_start_ms: int
    audio_end_ms: int
    code: Literal["asr_failed"] = "asr_failed"
    message: str


class ResponseCreated(ServerEvent):
    type: Literal["response.created"] = "response.created"
    response_id: str
    input_item_id: str | None = Field(description="The turn answered; null for response.say.")


class ResponseTextDelta(ServerEvent):
    type: Literal["response.text.delta"] = "response.text.delta"
    response_id: str
    delta: str


class Usage(_Out):
    output_tokens: int


class Timings(_Out):
    first_token_ms: float | None = Field(description="Request to first text token.")
    total_ms: float


class ResponseDone(ServerEvent):
    """A reply ended. ``text`` is what the client received, and what history keeps."""

    type: Literal["response.done"] = "response.done"
    response_id: str
    status: Literal["completed", "cancelled", "failed"]
    text: str
    reason: str | None = None
    usage: Usage
    timings: Timings


class Citation(_Out):
    id: str = Field(description="The passage's id in the prompt, e.g. S1.")
    chunk_id: str = Field(description="The indexed chunk: <source>#<ordinal>.")
    source: str = Field(description="The document, as a path inside its knowledge base.")
    title: str = Field(description="The document title and heading trail of the passage.")
    snippet: str = Field(description="The start of the passage, at most 200 characters.")


class ResponseCitations(ServerEvent):
    """The knowledge-base sources a reply used (only what was retrieved for it)."""

    type: Literal["response.citations"] = "response.citations"
    response_id: str
    citations: list[Citation]


class WordTime(_Out):
    text: str
    start_ms: int
    duration_ms: int


class VisemeTime(_Out):
    id: int = Field(ge=0, le=14, description="Oculus viseme id (0 sil … 14 U).")
    start_ms: int
    duration_ms: int


class ExpressionTime(_Out):
    name: str
    word_index: int
    start_ms: int


class AudioSegment(ServerEvent):
    """A spoken segment of a reply; its audio follows as binary frames (kind 2) of ``stream``,
    starting at ``pts``. Words, visemes and expressions are in ms from the segment's first
    sample, on the same clock as the audio."""

    type: Literal["response.audio.segment"] = "response.audio.segment"
    response_id: str
    segment_id: int
    stream: int
    pts: int = Field(description="First sample of this segment in the stream.")
    sample_rate: int
    samples: int
    text: str
    words: list[WordTime]
    visemes: list[VisemeTime]
    expressions: list[ExpressionTime]


class ResponseTruncated(ServerEvent):
    """History now keeps only ``text`` of this reply: what the client reported it played."""

    type: Literal["response.truncated"] = "response.truncated"
    response_id: str
    text: str


class Error(ServerEvent):
    type: Literal["error"] = "error"
    code: str
    message: str
    event_id: str | None = Field(None, description="The client event that caused it, if known.")
    retryable: bool
    retry_after_ms: int | None = None


class Pong(ServerEvent):
    type: Literal["pong"] = "pong"
    event_id: str | None = None


ClosingReason = Literal[
    "idle_timeout", "rate_limited", "lease_lost", "store_unavailable", "draining", "shutdown"
]


class SessionClosing(ServerEvent):
    """The server is about to close this socket with the WebSocket code ``close_code``."""

    type: Literal["session.closing"] = "session.closing"
    reason: ClosingReason
    close_code: int
    resumable: bool


ServerMessage = Annotated[
    SessionStarted
    | SessionResumed
    | InputCommitted
    | SpeechStarted
    | SpeechStopped
    | TranscriptPartial
    | TranscriptCompleted
    | TranscriptFailed
    | ResponseCreated
    | ResponseTextDelta
    | ResponseDone
    | ResponseTruncated
    | ResponseCitations
    | AudioSegment
    | Error
    | Pong
    | SessionClosing,
    Field(discriminator="type"),
]

client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
server_message_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
