"""The FastAPI application: composition root, HTTP probes and the WebSocket endpoint."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import structlog
from fastapi import FastAPI, Response, WebSocket
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from agent.llm.protocols import LLM, ChatMessage, GenerationParams
from agent.personas import PersonaError, PersonaLibrary
from agent.speech_out import SpeechConfig
from server.connection import Connection
from server.metrics import Metrics
from server.observability import configure_logging, init_sentry
from server.origins import origin_allowed
from server.protocol import messages as wire
from server.protocol.errors import CLOSE_POLICY
from server.redis_store import RedisSessionStore
from server.session_manager import ManagerConfig, SessionManager
from server.session_runtime import PinnedPersona, RuntimeConfig
from server.settings import Settings
from server.static import log_frontend_state, mount_frontend
from server.tokens import TokenError
from server.widget import WidgetAuth, widget_router
from server.wiring import VoiceEngines, build_llm, build_tts, build_voice

WS_PATH = "/v1/realtime"
log = structlog.get_logger(__name__)

try:
    VERSION = version("avatar-agent")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0+source"


@dataclass
class Services:
    redis: Redis
    llm: LLM
    manager: SessionManager
    metrics: Metrics
    voice: VoiceEngines | None
    draining: bool = False


def effective_config_factory(
    settings: Settings, llm: LLM, voice_available: bool, tts_rate: int | None
) -> Callable[[PinnedPersona, wire.Capabilities], wire.EffectiveConfig]:
    """Build the function that describes a session's effective configuration."""
    limits = wire.EffectiveLimits(
        max_text_frame_bytes=settings.limits.max_text_frame_bytes,
        max_binary_frame_bytes=settings.limits.max_binary_frame_bytes,
        max_input_chars=settings.limits.max_input_chars,
        messages_per_second=settings.limits.messages_per_second,
        message_burst=settings.limits.message_burst,
    )

    def config_for(persona: PinnedPersona, requested: wire.Capabilities) -> wire.EffectiveConfig:
        audio_in = requested.audio_in and voice_available
        audio_out = requested.audio_out and tts_rate is not None
        avatar = persona.avatar
        return wire.EffectiveConfig(
            persona=wire.PersonaInfo(
                id=persona.id,
                name=persona.name,
                version=persona.version,
                avatar=wire.PersonaAvatar(url=avatar.url, format=avatar.format) if avatar else None,
            ),
            llm=llm.name,
            capabilities=wire.Capabilities(
                text=True, audio_in=audio_in, audio_out=audio_out, visemes=audio_out
            ),
            audio_in=wire.AudioFormat(enabled=audio_in, sample_rate=16000),
            audio_out=wire.AudioFormat(enabled=audio_out, sample_rate=tts_rate or 22050),
            heartbeat_interval_s=settings.connection.heartbeat_interval_s,
            idle_timeout_s=settings.connection.idle_timeout_s,
            resume_ttl_s=settings.session.resume_ttl_s,
            limits=limits,
        )

    return config_for


def create_app(settings: Settings | None = None, *, llm: LLM | None = None) -> FastAPI:
    """Build the app. ``llm`` replaces the configured engine (tests inject scripted ones)."""
    settings = settings or Settings()
    instance = settings.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    metrics = Metrics()
    widget = WidgetAuth.from_settings(settings.widget)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.observability)
        init_sentry(settings.observability, VERSION)
        personas = PersonaLibrary(settings.prompts_dir)
        default = personas.get(settings.default_persona)
        check_widget_settings(settings, personas)
        log_frontend_state(settings.frontend)
        redis = Redis.from_url(settings.redis.url, decode_responses=True)
        engine = llm or build_llm(settings.llm)
        await engine.start()
        await engine.warm([ChatMessage("system", default.system_prompt), ChatMessage("user", "")])
        voice = await build_voice(settings.voice)
        tts = await build_tts(settings.tts)
        metrics.llm_queue_depth.set_function(lambda: engine.queue_depth)
        store = RedisSessionStore(
            redis,
            prefix=settings.redis.key_prefix,
            idle_ttl_s=settings.session.idle_ttl_s,
            replay_max=settings.session.replay_max_events,
            history_max=settings.session.history_max_messages,
        )
        manager = SessionManager(
            store=store,
            llm=engine,
            personas=personas,
            tts=tts,
            metrics=metrics,
            config=ManagerConfig(
                instance=instance,
                version=VERSION,
                default_persona=settings.default_persona,
                resume_ttl_s=settings.session.resume_ttl_s,
                lease_wait_s=settings.session.lease_wait_s,
                runtime=RuntimeConfig(
                    lease_ms=int(settings.session.lease_ttl_s * 1000),
                    params=GenerationParams(
                        settings.llm.max_tokens,
                        settings.llm.temperature,
                        ignore_eos=settings.llm.ignore_eos,
                    ),
                    history_chars=settings.llm.history_chars,
                    history_max=settings.session.history_max_messages,
                    speech=SpeechConfig(
                        frame_ms=settings.tts.frame_ms, ahead_ms=settings.tts.ahead_ms
                    ),
                ),
                config_for=effective_config_factory(
                    settings, engine, voice is not None, tts.sample_rate if tts else None
                ),
            ),
        )
        app.state.services = Services(redis, engine, manager, metrics, voice)
        log.info("server_ready", instance=instance, llm=engine.name, version=VERSION)
        try:
            yield
        finally:
            app.state.services.draining = True
            await manager.shutdown()
            await engine.aclose()
            if voice is not None:
                voice.close()
            if tts is not None:
                await tts.aclose()
            await redis.aclose()
            log.info("server_stopped", instance=instance)

    app = FastAPI(title="avatar-agent", version=VERSION, lifespan=lifespan)

    def services() -> Services:
        s: Services = app.state.services
        return s

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves HTTP."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: Redis answers, the model is loaded, and the process is not draining."""
        s = services()
        try:
            redis_ok = bool(await s.redis.ping())
        except Exception:
            redis_ok = False
        checks = {
            "redis": redis_ok,
            "llm": s.llm.ready,
            "asr": s.voice is None or s.voice.asr.ready,
            "tts": s.manager.speaks or not settings.tts.enabled,
            "accepting": not s.draining,
        }
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(
            generate_latest(services().metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    app.include_router(widget_router(widget, metrics, ws_path=WS_PATH))

    @app.websocket(WS_PATH)
    async def realtime(ws: WebSocket) -> None:
        """The protocol. Admitted by a widget token (``?token=``) bound to the page's origin,
        or, without one, by the origin policy. Refusals close before accept: HTTP 403."""
        s = services()
        origin = ws.headers.get("origin")
        token = ws.query_params.get("token")
        persona_pin: str | None = None
        if token is not None:
            try:
                claims = widget.admit(token, origin, now=int(time.time()))
            except TokenError as exc:
                s.metrics.errors.labels(code=exc.code).inc()
                log.warning("token_refused", code=exc.code, reason=str(exc), origin=origin)
                await ws.close(CLOSE_POLICY)
                return
            persona_pin = claims.persona
        elif not origin_allowed(
            origin, ws.headers.get("host"), settings.connection.allowed_origins
        ):
            s.metrics.errors.labels(code="origin_not_allowed").inc()
            log.warning("origin_refused", origin=origin)
            await ws.close(CLOSE_POLICY)  # before accept: the upgrade is refused with HTTP 403
            return
        # Each connection runs in its own task; the reader binds session_id into its context.
        await Connection(
            ws,
            s.manager,
            limits=settings.limits,
            connection=settings.connection,
            metrics=s.metrics,
            voice=s.voice,
            persona_pin=persona_pin,
        ).serve()

    def cors_origin(origin: str) -> bool:
        return widget.origin_listed(origin) or origin_allowed(
            origin, None, settings.connection.allowed_origins
        )

    mount_frontend(app, settings.frontend, cors_origin)  # last: it matches every path
    return app


def check_widget_settings(settings: Settings, personas: PersonaLibrary) -> None:
    """Refuse to start with a widget key pinning a persona that does not load."""
    for kid, key in settings.widget.keys.items():
        if key.persona is None:
            continue
        try:
            personas.get(key.persona)
        except PersonaError as exc:
            raise PersonaError(f"AVATAR_WIDGET__KEYS[{kid!r}].persona: {exc}") from None
    if settings.widget.keys and settings.widget.token_secret is None:
        log.warning(
            "widget_token_secret_random",
            hint="tokens work on this process only; set AVATAR_WIDGET__TOKEN_SECRET when "
            "several processes serve one address",
        )
