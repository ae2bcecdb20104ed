"""Starts and resumes sessions, and owns every session runtime of this process.

Resume works on any process: the session's state is read back from Redis once the writer lease
is taken. A lease held by a live socket elsewhere answers ``session_busy`` at once (with the
lease's remaining time as ``retry_after_ms``); a lease held by a detached owner that is finishing
a reply is waited for, up to ``lease_wait_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from agent.grounded import RetrieverFor
from agent.llm.protocols import LLM
from agent.personas import Persona, PersonaError, PersonaLibrary
from agent.prompt import HistoryItem
from agent.speech_out import TTS
from server.metrics import Metrics
from server.protocol import messages as wire
from server.protocol.errors import ErrorCode, ProtocolError
from server.redis_store import RedisSessionStore, hash_token, now_ms
from server.session_runtime import Outbox, RuntimeConfig, SessionRuntime

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    instance: str
    version: str
    default_persona: str
    resume_ttl_s: int
    lease_wait_s: float
    runtime: RuntimeConfig
    config_for: Callable[[Persona, wire.Capabilities], wire.EffectiveConfig]


class SessionBusy(ProtocolError):
    def __init__(self, retry_after_ms: int, event_id: str | None = None) -> None:
        super().__init__(ErrorCode.SESSION_BUSY, "another connection drives this session", event_id)
        self.retry_after_ms = retry_after_ms


class SessionManager:
    def __init__(
        self,
        *,
        store: RedisSessionStore,
        llm: LLM,
        personas: PersonaLibrary,
        config: ManagerConfig,
        metrics: Metrics,
        tts: TTS | None = None,
        retriever_for: RetrieverFor | None = None,
    ) -> None:
        self._store = store
        self._retriever_for = retriever_for
        self._pinned: dict[tuple[str, str], Persona] = {}
        """Persona versions parsed from sessions' pinned sources, so resumes parse each once."""
        self._llm = llm
        self._personas = personas
        self._config = config
        self._metrics = metrics
        self._runtimes: dict[str, SessionRuntime] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._tts = tts

    @property
    def speaks(self) -> bool:
        """Whether this process can give sessions audio output."""
        return self._tts is not None

    @property
    def active(self) -> int:
        return len(self._runtimes)

    # ── handshake ──────────────────────────────────────────────────────────

    async def start(
        self, msg: wire.SessionStart, outbox: Outbox, *, persona_pin: str | None = None
    ) -> SessionRuntime:
        """Create a session. ``persona_pin`` (from a widget token) is the persona it must use:
        a ``session.start`` naming another one is refused with ``persona_not_allowed``."""
        if persona_pin is not None and msg.persona not in (None, persona_pin):
            raise ProtocolError(
                ErrorCode.PERSONA_NOT_ALLOWED,
                f"this connection may only use the persona {persona_pin!r}",
                msg.event_id,
            )
        persona_id = persona_pin or msg.persona or self._config.default_persona
        try:
            persona = self._personas.get(persona_id)
        except PersonaError as exc:
            raise ProtocolError(ErrorCode.PERSONA_NOT_FOUND, str(exc), msg.event_id) from None
        session_id = f"sess_{secrets.token_urlsafe(12)}"
        token = secrets.token_urlsafe(32)
        owner = self._new_owner()
        await self._store.create(
            session_id,
            owner,
            self._config.runtime.lease_ms,
            token=token,
            fields={
                "persona": persona.id,
                "persona_version": persona.version,
                "persona_source": persona.source,
            },
        )
        runtime = self._register(session_id, owner, persona, [], 0)
        await runtime.attach(outbox)
        await runtime.emit(
            wire.SessionStarted(
                seq=0,
                protocol_version=wire.PROTOCOL_VERSION,
                resume_token=token,
                config=self._config.config_for(persona, msg.capabilities),
                server=self._server_info(),
            )
        )
        log.info("session_started", session_id=session_id, persona=persona.id)
        return runtime

    async def resume(self, msg: wire.SessionResume, outbox: Outbox) -> SessionRuntime:
        sid = msg.session_id
        meta = await self._store.load_meta(sid)
        if meta is None:
            self._metrics.resumes.labels(outcome="not_found").inc()
            raise ProtocolError(ErrorCode.SESSION_NOT_FOUND, "no such session", msg.event_id)
        if not hmac.compare_digest(meta.token_sha256, hash_token(msg.resume_token)):
            self._metrics.resumes.labels(outcome="bad_token").inc()
            raise ProtocolError(ErrorCode.RESUME_TOKEN_INVALID, "wrong resume token", msg.event_id)
        if now_ms() - meta.last_seen_ms > self._config.resume_ttl_s * 1000:
            self._metrics.resumes.labels(outcome="expired").inc()
            raise ProtocolError(
                ErrorCode.RESUME_EXPIRED, "the resume window has passed", msg.event_id
            )

        runtime = self._runtimes.get(sid)
        if runtime is not None:
            if runtime.claimed:
                raise SessionBusy(self._config.runtime.lease_ms, msg.event_id)
            if not runtime.reserve():  # closing: let it release the lease, then take it over
                await runtime.released()
                runtime = None
        recovered = runtime is None
        if runtime is None:
            owner = self._new_owner()
            await self._acquire(sid, owner, msg.event_id)
            fields = await self._store.load_fields(sid, "persona_source")
            persona = self._pinned_persona(meta.persona, fields.get("persona_source", ""))
            history = await self._store.load_history(sid)
            meta = await self._store.load_meta(sid) or meta  # re-read under the lease
            runtime = self._register(sid, owner, persona, history, meta.seq)
            runtime.reserve()

        token = secrets.token_urlsafe(32)

        def make_resumed(
            replay: wire.ReplayInfo, history: list[wire.HistoryEntry] | None
        ) -> wire.ServerEvent:
            return wire.SessionResumed(
                seq=0,
                protocol_version=wire.PROTOCOL_VERSION,
                resume_token=token,
                config=self._config.config_for(runtime.persona, msg.capabilities),
                server=self._server_info(),
                replay=replay,
                history=history,
            )

        try:
            await runtime.attach_resumed(
                outbox,
                msg.last_seq,
                make_resumed,
                {"token_sha256": hash_token(token), "last_seen_ms": str(now_ms())},
            )
        except BaseException:
            runtime.unreserve()
            raise
        self._metrics.resumes.labels(outcome="local" if not recovered else "acquired").inc()
        log.info("session_resumed", session_id=sid, recovered=recovered, last_seq=msg.last_seq)
        if recovered:
            pending = await self._store.load_fields(sid, "pending_input", "open_response")
            await runtime.recover(pending.get("pending_input"), pending.get("open_response"))
        return runtime

    async def _acquire(self, sid: str, owner: str, event_id: str | None) -> None:
        deadline = time.monotonic() + self._config.lease_wait_s
        while True:
            holder = await self._store.try_acquire(sid, owner, self._config.runtime.lease_ms)
            if holder is None:
                return
            if holder.attached or time.monotonic() >= deadline:
                raise SessionBusy(holder.remaining_ms, event_id)
            await asyncio.sleep(0.1)

    # ── runtime ownership ──────────────────────────────────────────────────

    def _register(
        self, sid: str, owner: str, persona: Persona, history: list[HistoryItem], seq: int
    ) -> SessionRuntime:
        runtime = SessionRuntime(
            session_id=sid,
            owner=owner,
            store=self._store,
            llm=self._llm,
            persona=persona,
            history=history,
            seq=seq,
            config=self._config.runtime,
            metrics=self._metrics,
            hooks=self,
            tts=self._tts,
            retriever_for=self._retriever_for,
        )
        self._runtimes[sid] = runtime
        self._metrics.active_sessions.set(len(self._runtimes))
        runtime.begin()
        return runtime

    def runtime_idle(self, runtime: SessionRuntime) -> None:
        task = asyncio.create_task(runtime.close_if_idle(), name=f"close:{runtime.session_id}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def runtime_closed(self, runtime: SessionRuntime) -> None:
        if self._runtimes.get(runtime.session_id) is runtime:
            del self._runtimes[runtime.session_id]
        self._metrics.active_sessions.set(len(self._runtimes))

    async def drain(self, timeout_s: float) -> None:
        """Hand every session of this process over (``SessionRuntime.drain``), in parallel,
        giving replies in progress up to ``timeout_s`` to finish."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        runtimes = list(self._runtimes.values())
        log.info("draining", sessions=len(runtimes), timeout_s=timeout_s)
        await asyncio.gather(*(r.drain(deadline) for r in runtimes), return_exceptions=True)
        if self._closing:
            await asyncio.wait(set(self._closing))

    async def shutdown(self) -> None:
        """Close every runtime (releasing leases so other processes can resume them)."""
        await asyncio.gather(*(r.close() for r in list(self._runtimes.values())))
        if self._closing:
            await asyncio.wait(set(self._closing))

    def _pinned_persona(self, persona_id: str, source: str) -> Persona:
        """The persona version a session started with, from the source it pinned.

        The source was valid when the session started; should it no longer parse (a server
        version that validates differently), the session goes on with the current file.
        """
        key = (persona_id, hashlib.sha256(source.encode()).hexdigest())
        if (cached := self._pinned.get(key)) is not None:
            return cached
        try:
            persona = self._personas.parse_source(persona_id, source)
        except PersonaError as exc:
            log.warning("pinned_persona_invalid", persona=persona_id, problems=str(exc))
            return self._personas.get(persona_id)
        self._pinned[key] = persona
        while len(self._pinned) > 64:
            del self._pinned[next(iter(self._pinned))]
        return persona

    def _new_owner(self) -> str:
        return f"{self._config.instance}/{secrets.token_hex(6)}"

    def _server_info(self) -> wire.ServerInfo:
        return wire.ServerInfo(version=self._config.version, instance=self._config.instance)
