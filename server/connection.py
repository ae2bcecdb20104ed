"""One WebSocket connection: the handshake, the read loop with limits, and the writer.

Two tasks per connection, both owned here: the reader (this coroutine) and the writer, which
sends what the session's runtime puts in the outbox. The runtime never waits on the network; a
client too slow to take its events is disconnected (it can resume and get them replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog
from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from agent.voice_input import VoiceInput, with_turn_taking
from server.metrics import Metrics
from server.privacy import LiveSockets
from server.protocol import messages as wire
from server.protocol.audio_frames import AudioFrameError, FrameKind, decode_frame
from server.protocol.codec import decode_client_text
from server.protocol.errors import (
    CLOSE_NORMAL,
    CLOSE_NOT_FOUND,
    CLOSE_RATE_LIMITED,
    CLOSE_TRY_AGAIN,
    SPECS,
    ErrorCode,
    ProtocolError,
)
from server.rate_limit import TokenBucket
from server.redis_store import LeaseLost
from server.session_manager import SessionManager
from server.session_runtime import SessionRuntime, closing_event, error_event
from server.settings import ConnectionSettings, LimitSettings
from server.wiring import VoiceEngines
from speech.audio import pcm16_to_float

log = structlog.get_logger(__name__)

_SEND_TIMEOUT_S = 10.0
_OUTBOX_LIMIT = 2048


@dataclass(frozen=True, slots=True)
class _Close:
    code: int


class SocketOutbox:
    """Frames waiting for the writer. ``send_text`` never blocks."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | bytes | _Close] = asyncio.Queue()
        self.closed = False

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= _OUTBOX_LIMIT:
            log.warning("slow_consumer_disconnected")
            self.close(CLOSE_TRY_AGAIN)
            return
        self._queue.put_nowait(text)

    def send_bytes(self, data: bytes) -> None:
        if not self.closed and self._queue.qsize() < _OUTBOX_LIMIT:
            self._queue.put_nowait(data)  # audio: a slow client loses frames, not the session

    def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_Close(code))

    async def next(self) -> str | bytes | _Close:
        return await self._queue.get()


class Connection:
    def __init__(
        self,
        ws: WebSocket,
        manager: SessionManager,
        *,
        limits: LimitSettings,
        connection: ConnectionSettings,
        metrics: Metrics,
        voice: VoiceEngines | None = None,
        persona_pin: str | None = None,
        live: LiveSockets | None = None,
    ) -> None:
        """``persona_pin``: the persona the socket's widget or session token pins (session.start
        must use it), or None. ``live``: where the socket registers once it has a session, so
        deleting the session closes it (server/privacy.py)."""
        self._ws = ws
        self._persona_pin = persona_pin
        self._live = live
        self._unregister: Callable[[], None] | None = None
        self._manager = manager
        self._limits = limits
        self._conn = connection
        self._metrics = metrics
        self._outbox = SocketOutbox()
        self._runtime: SessionRuntime | None = None
        self._voice_engines = voice
        self._audio_in_granted = False
        self._voice: VoiceInput | None = None
        self._audio_bucket = TokenBucket(
            limits.audio_frames_per_second, limits.audio_frame_burst, time.monotonic()
        )
        self._bucket = TokenBucket(
            limits.messages_per_second, limits.message_burst, time.monotonic()
        )
        self._violations = 0
        self._last_rate_error = -1e9

    async def serve(self) -> None:
        """Run until the socket closes. The session itself may live on (see SessionRuntime)."""
        await self._ws.accept()
        self._metrics.connections.inc()
        writer = asyncio.create_task(self._write_loop(), name="ws-writer")
        reader = asyncio.create_task(self._read_loop(), name="ws-reader")
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                self._outbox.close(CLOSE_NORMAL)
                await asyncio.wait({writer}, timeout=_SEND_TIMEOUT_S)
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.wait({reader, writer})
            if self._voice is not None:
                await self._voice.close()
            if self._unregister is not None:
                self._unregister()
            if self._runtime is not None:
                self._runtime.detach(self._outbox)
            self._metrics.connections.dec()

    def end_deleted(self) -> None:
        """The session was deleted: tell the client (``session_deleted``, then
        ``session.closing``) and close with 4404. Sent directly, not through the session,
        whose log no longer exists."""
        runtime = self._runtime
        if runtime is None or self._outbox.closed:
            return
        self._metrics.errors.labels(code=ErrorCode.SESSION_DELETED).inc()
        notices: list[wire.ServerEvent] = [
            error_event(ErrorCode.SESSION_DELETED, "this session was deleted"),
            wire.SessionClosing(
                seq=0, reason="shutdown", close_code=CLOSE_NOT_FOUND, resumable=False
            ),
        ]
        for notice in notices:
            update = {"session_id": runtime.session_id}
            self._outbox.send_text(notice.model_copy(update=update).model_dump_json())
        self._outbox.close(CLOSE_NOT_FOUND)

    # ── writer ─────────────────────────────────────────────────────────────

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.next()
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await self._ws.close(item.code)
                return
            try:
                send = (
                    self._ws.send_bytes(item)
                    if isinstance(item, bytes)
                    else self._ws.send_text(item)
                )
                await asyncio.wait_for(send, _SEND_TIMEOUT_S)
            except Exception:
                self._outbox.closed = True
                return

    # ── reader ─────────────────────────────────────────────────────────────

    async def _read_loop(self) -> None:
        handshake_deadline = time.monotonic() + self._conn.handshake_timeout_s
        while not self._outbox.closed:
            if self._runtime is None:  # counted from the upgrade, not from the last frame
                timeout = max(0.0, handshake_deadline - time.monotonic())
            else:
                timeout = self._conn.idle_timeout_s
            try:
                message = await asyncio.wait_for(self._ws.receive(), timeout)
            except TimeoutError:
                await self._timed_out()
                return
            except RuntimeError:  # receive after the socket closed
                return
            if message["type"] == "websocket.disconnect":
                return
            bucket = self._audio_bucket if message.get("bytes") is not None else self._bucket
            if not bucket.allow(time.monotonic()):
                await self._rate_limited()
                continue
            try:
                if (text := message.get("text")) is not None:
                    await self._on_text(text)
                elif (data := message.get("bytes")) is not None:
                    await self._on_binary(data)
            except ProtocolError as exc:
                await self._send_error(exc, getattr(exc, "retry_after_ms", None))
            except LeaseLost:
                return  # the runtime has told the client and closed the outbox
            except RedisError:
                log.exception("store_unavailable")
                await self._send_error(
                    ProtocolError(ErrorCode.STORE_UNAVAILABLE, "session storage unreachable")
                )
            except Exception:
                log.exception("message_failed")
                await self._send_error(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal error"))

    async def _on_text(self, text: str) -> None:
        if len(text) * 4 > self._limits.max_text_frame_bytes and (
            len(text.encode("utf-8", "surrogatepass")) > self._limits.max_text_frame_bytes
        ):
            raise ProtocolError(
                ErrorCode.FRAME_TOO_LARGE,
                f"text frame above {self._limits.max_text_frame_bytes} bytes",
            )
        msg = decode_client_text(text)
        runtime = self._runtime
        if runtime is None:
            await self._handshake(msg)
            return
        match msg:
            case wire.InputText(text=user_text):
                if len(user_text) > self._limits.max_input_chars:
                    raise ProtocolError(
                        ErrorCode.INPUT_TOO_LONG,
                        f"text of {len(user_text)} characters; the limit is "
                        f"{self._limits.max_input_chars}",
                        msg.event_id,
                    )
                await runtime.submit_text(user_text)
            case wire.ResponseCancel(response_id=response_id):
                if not await runtime.cancel(response_id):
                    raise ProtocolError(
                        ErrorCode.NO_ACTIVE_RESPONSE, "no reply is in progress", msg.event_id
                    )
            case wire.PlaybackPosition(response_id=response_id, played_ms=played_ms):
                runtime.playback_position(response_id, played_ms, msg.underruns)
            case wire.ResponseSay(text=say_text):
                if len(say_text) > self._limits.max_input_chars:
                    raise ProtocolError(
                        ErrorCode.INPUT_TOO_LONG, "text above max_input_chars", msg.event_id
                    )
                await runtime.say(say_text)
            case wire.PlaybackStopped(response_id=response_id):
                if not await runtime.truncate(
                    response_id, played_chars=msg.played_chars, played_ms=msg.played_ms
                ):
                    raise ProtocolError(
                        ErrorCode.UNKNOWN_RESPONSE,
                        f"no reply {response_id!r} in this session's history",
                        msg.event_id,
                    )
            case wire.Ping(event_id=event_id):
                await runtime.emit(wire.Pong(seq=0, event_id=event_id))
            case wire.SessionStart() | wire.SessionResume():
                raise ProtocolError(
                    ErrorCode.ALREADY_STARTED, "this socket already has a session", msg.event_id
                )

    async def _handshake(self, msg: wire.ClientCommand) -> None:
        if not isinstance(msg, wire.SessionStart | wire.SessionResume):
            raise ProtocolError(
                ErrorCode.HANDSHAKE_REQUIRED,
                "send session.start or session.resume first",
                msg.event_id,
            )
        if msg.protocol_version not in wire.SUPPORTED_VERSIONS:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"protocol version {msg.protocol_version!r} is not supported; "
                f"this server speaks {sorted(wire.SUPPORTED_VERSIONS)}",
                msg.event_id,
            )
        if isinstance(msg, wire.SessionStart):
            self._runtime = await self._manager.start(
                msg, self._outbox, persona_pin=self._persona_pin
            )
        else:
            self._runtime = await self._manager.resume(msg, self._outbox)
        self._audio_in_granted = msg.capabilities.audio_in and self._voice_engines is not None
        self._runtime.audio_out = msg.capabilities.audio_out and self._manager.speaks
        structlog.contextvars.bind_contextvars(session_id=self._runtime.session_id)
        if self._live is not None:
            self._unregister = self._live.add(self._runtime.session_id, self.end_deleted)

    async def _on_binary(self, data: bytes) -> None:
        if self._runtime is None:
            raise ProtocolError(ErrorCode.AUDIO_BEFORE_HANDSHAKE, "binary frame before handshake")
        if len(data) > self._limits.max_binary_frame_bytes:
            raise ProtocolError(
                ErrorCode.FRAME_TOO_LARGE,
                f"binary frame above {self._limits.max_binary_frame_bytes} bytes",
            )
        try:
            frame = decode_frame(data)
        except AudioFrameError as exc:
            raise ProtocolError(ErrorCode.INVALID_AUDIO_FRAME, str(exc)) from None
        if frame.kind is not FrameKind.INPUT_AUDIO:
            raise ProtocolError(ErrorCode.INVALID_AUDIO_FRAME, "clients send kind 1 frames")
        if not self._audio_in_granted or self._voice_engines is None:
            raise ProtocolError(
                ErrorCode.AUDIO_INPUT_UNAVAILABLE,
                "audio input was not granted: ask for capabilities.audio_in in the handshake"
                if self._voice_engines is not None
                else "audio input is not enabled on this server",
            )
        if self._voice is None:
            engines = self._voice_engines
            # Bias recognition toward the server's and the persona's vocabulary.
            persona = self._runtime.persona
            words = [engines.config.hotwords or "", *persona.vocabulary]
            config = with_turn_taking(
                replace(engines.config, hotwords=" ".join(w for w in words if w) or None),
                persona.turn_taking,
            )
            self._voice = VoiceInput(
                self._runtime, engines.vad, engines.asr, config, frame.sample_rate
            )
        elif frame.sample_rate != self._voice.input_rate:
            raise ProtocolError(
                ErrorCode.INVALID_AUDIO_FRAME,
                f"sample rate changed from {self._voice.input_rate} to {frame.sample_rate} "
                "within one stream",
            )
        await self._voice.push(pcm16_to_float(frame.pcm))

    # ── errors and closing ─────────────────────────────────────────────────

    async def _send_error(self, exc: ProtocolError, retry_after_ms: int | None = None) -> None:
        self._metrics.errors.labels(code=exc.code).inc()
        event = error_event(exc.code, exc.message, exc.event_id)
        if retry_after_ms is not None:
            event = event.model_copy(update={"retry_after_ms": retry_after_ms})
        close_code = SPECS[exc.code].close_code
        await self._emit(event)
        if close_code is not None:
            if self._runtime is not None:
                await self._emit(closing_event(exc.code, close_code))
            self._outbox.close(close_code)

    async def _emit(self, event: wire.ServerEvent) -> None:
        """Send through the session (numbered, logged) once there is one; directly before."""
        if self._runtime is None:
            self._outbox.send_text(event.model_dump_json())
            return
        try:
            await self._runtime.emit(event)
        except (LeaseLost, RedisError):
            self._outbox.send_text(event.model_dump_json())

    async def _timed_out(self) -> None:
        if self._runtime is None:
            await self._send_error(ProtocolError(ErrorCode.HANDSHAKE_TIMEOUT, "no handshake"))
        else:
            await self._send_error(ProtocolError(ErrorCode.IDLE_TIMEOUT, "no message in time"))

    async def _rate_limited(self) -> None:
        self._violations += 1
        if self._violations >= self._limits.max_violations:
            if self._runtime is not None:
                await self._emit(closing_event(ErrorCode.RATE_LIMITED, CLOSE_RATE_LIMITED))
            self._outbox.close(CLOSE_RATE_LIMITED)
            return
        now = time.monotonic()
        if now - self._last_rate_error >= 1.0:  # one error a second, not one per dropped frame
            self._last_rate_error = now
            await self._send_error(
                ProtocolError(ErrorCode.RATE_LIMITED, "too many messages; this one was dropped"),
                retry_after_ms=int(1000 / self._limits.messages_per_second) + 1,
            )
