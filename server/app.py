"""The FastAPI application: composition root, HTTP probes and the WebSocket endpoint."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Response, WebSocket
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from agent.llm.protocols import LLM, ChatMessage, GenerationParams
from agent.personas import Persona, PersonaError, PersonaLibrary
from agent.prompt import HistoryItem
from agent.speech_out import SpeechConfig
from server.admin import AdminError, Preview, admin_error_handler, admin_router, preview_runner
from server.connection import Connection
from server.knowledge import KnowledgeService
from server.metrics import Metrics, MetricsExporter
from server.observability import configure_logging, init_sentry
from server.origins import origin_allowed
from server.protocol import messages as wire
from server.redis_store import RedisSessionStore
from server.security import Security
from server.session_manager import ManagerConfig, SessionManager
from server.session_runtime import RuntimeConfig
from server.settings import Settings
from server.static import log_frontend_state, mount_frontend
from server.tracing import configure_tracing, fastapi_telemetry, shutdown_tracing
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
    knowledge: KnowledgeService
    preview: Preview
    draining: bool = False


def effective_config_factory(
    settings: Settings, llm: LLM, voice_available: bool, tts_rate: int | None
) -> Callable[[Persona, wire.Capabilities], wire.EffectiveConfig]:
    """Build the function that describes a session's effective configuration."""
    limits = wire.EffectiveLimits(
        max_text_frame_bytes=settings.limits.max_text_frame_bytes,
        max_binary_frame_bytes=settings.limits.max_binary_frame_bytes,
        max_input_chars=settings.limits.max_input_chars,
        messages_per_second=settings.limits.messages_per_second,
        message_burst=settings.limits.message_burst,
    )

    def config_for(persona: Persona, requested: wire.Capabilities) -> wire.EffectiveConfig:
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
    security = Security.from_settings(settings, widget, metrics)
    personas = PersonaLibrary(settings.prompts_dir, knowledge_dir=settings.knowledge_root)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.observability, settings.privacy)
        init_sentry(settings.observability, VERSION, settings.privacy)
        tracer_provider = configure_tracing(settings.tracing, version=VERSION, instance=instance)
        default = personas.get(settings.default_persona)
        check_widget_settings(settings, personas)
        log_frontend_state(settings.frontend)
        # A blocking pool: past max_connections, commands queue for a connection (redis-py's
        # default pool raises "Too many connections" at 100 commands in flight). Pooled
        # connections retry nothing unless told: after a Redis restart, each connection opened
        # before it would fail its next command. Two quick retries reconnect instead; a replayed
        # log write cannot land twice (its stream entry id is its seq).
        redis = Redis.from_pool(
            BlockingConnectionPool.from_url(
                settings.redis.url,
                max_connections=settings.redis.max_connections,
                timeout=settings.redis.pool_timeout_s,
                decode_responses=True,
                retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries=2),
            )
        )
        engine = llm or build_llm(settings.llm)
        await engine.start()
        await engine.warm([ChatMessage("system", default.system_prompt), ChatMessage("user", "")])
        voice = await build_voice(settings.voice)
        tts = await build_tts(settings.tts)
        metrics.llm_queue_depth.set_function(lambda: engine.queue_depth)
        knowledge = KnowledgeService(settings.knowledge, settings.knowledge_root, personas, metrics)
        knowledge.start()
        params = GenerationParams(
            settings.llm.max_tokens, settings.llm.temperature, ignore_eos=settings.llm.ignore_eos
        )
        store = RedisSessionStore(
            redis,
            prefix=settings.redis.key_prefix,
            idle_ttl_s=settings.session.idle_ttl_s,
            replay_max=settings.session.replay_max_events,
            history_max=settings.session.history_max_messages,
        )
        await security.start(redis, store)
        manager = SessionManager(
            store=store,
            llm=engine,
            personas=personas,
            tts=tts,
            metrics=metrics,
            retriever_for=knowledge.retriever_for,
            config=ManagerConfig(
                instance=instance,
                version=VERSION,
                default_persona=settings.default_persona,
                resume_ttl_s=settings.session.resume_ttl_s,
                lease_wait_s=settings.session.lease_wait_s,
                runtime=RuntimeConfig(
                    lease_ms=int(settings.session.lease_ttl_s * 1000),
                    params=params,
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
        preview = preview_runner(
            engine,
            knowledge.retriever_for,
            params,
            settings.llm.history_chars,
            settings.admin.preview_timeout_s,
        )
        app.state.services = Services(redis, engine, manager, metrics, voice, knowledge, preview)
        exporter = (
            MetricsExporter(metrics.registry, settings.host, metrics_port)
            if (metrics_port := settings.observability.metrics_port) is not None
            else None
        )
        log.info("server_ready", instance=instance, llm=engine.name, version=VERSION)
        try:
            yield
        finally:
            if exporter is not None:
                exporter.close()
            app.state.services.draining = True
            await manager.shutdown()
            await knowledge.aclose()
            await engine.aclose()
            if voice is not None:
                await voice.aclose()
            if tts is not None:
                await tts.aclose()
            await security.aclose()
            await redis.aclose()
            await shutdown_tracing(tracer_provider)
            log.info("server_stopped", instance=instance)

    app = FastAPI(
        title="avatar-agent", version=VERSION, lifespan=lifespan, telemetry=fastapi_telemetry()
    )

    async def drain() -> None:
        """SIGTERM (server/cli.py): stop taking sessions, hand the live ones over."""
        s = services()
        if s.draining:
            return
        s.draining = True  # /readyz answers 503 from now on; new sockets are turned away
        await s.manager.drain(settings.session.drain_timeout_s)

    app.state.drain = drain

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
            "knowledge": s.knowledge.ready,
            "accepting": not s.draining,
        }
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    if settings.observability.metrics_port is None:

        @app.get("/metrics")
        async def metrics_endpoint() -> Response:
            return Response(
                generate_latest(services().metrics.registry), media_type=CONTENT_TYPE_LATEST
            )

    app.include_router(
        widget_router(widget, metrics, ws_path=WS_PATH),
        dependencies=[Depends(security.token_limit)],
    )

    async def preview(persona: Persona, message: str, history: list[HistoryItem]) -> Any:
        return await services().preview(persona, message, history)

    app.include_router(
        admin_router(
            personas,
            {name: t.get_secret_value() for name, t in settings.admin.tokens.items()},
            preview,
            lambda: services().knowledge.status(),
        ),
        dependencies=[Depends(security.api_limit)],  # before the admin token is looked at
    )
    app.add_exception_handler(AdminError, admin_error_handler)
    security.install(app, persona_exists=lambda persona_id: persona_id in personas.ids())

    @app.websocket(WS_PATH)
    async def realtime(ws: WebSocket) -> None:
        """The protocol. Admitted by an API key, a session or widget token (``?token=``)
        bound to the page's origin, or, without one and unless ``auth.require`` is ``token``,
        by the origin policy; and within the upgrade rate limits. Refusals happen before
        accept: HTTP 401, 403 or 429 (server/security.py)."""
        s = services()
        if s.draining:
            # Another process takes the session: the client's reconnect lands there.
            await ws.send_denial_response(
                JSONResponse(
                    {"error": {"code": "server_draining", "message": "this process is stopping"}},
                    status_code=503,
                    headers={"Retry-After": "1"},
                )
            )
            return
        admission = await security.admit_socket(ws)
        if admission is None:
            return  # refused before accept
        # Each connection runs in its own task; the reader binds session_id into its context.
        await Connection(
            ws,
            s.manager,
            limits=settings.limits,
            connection=settings.connection,
            metrics=s.metrics,
            voice=s.voice,
            persona_pin=admission.persona_pin,
            live=security.live,
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
