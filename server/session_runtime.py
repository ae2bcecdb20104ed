"""A session while this process owns it.

The runtime holds the session's writer lease and renews it, numbers and logs every server event
before sending it (so a resumed client can be sent exactly what it missed), and owns the task of
the reply in progress. The reply outlives a dropped socket: its events keep going to the log, and
the lease is released only when no socket is attached and no reply is running.

Invariant: every event is written to Redis (fenced by the lease) before it is sent, so the client
never holds a seq the log lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import structlog
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from redis.exceptions import RedisError

from agent import events as ev
from agent.grounded import ReplyPlan, RetrieverFor, plan_reply
from agent.heard import SpokenWords, heard_prefix
from agent.llm.fixed import FixedReply
from agent.llm.protocols import LLM, GenerationParams
from agent.personas import Persona
from agent.prompt import HistoryItem
from agent.responder import run_response
from agent.speech_out import TTS, PlaybackClock, SpeechConfig, SpeechOutput
from agent.turn_state import TurnState, TurnStateMachine
from server.metrics import Metrics
from server.protocol import messages as wire
from server.protocol.audio_frames import AudioFrame, FrameKind, encode_frame
from server.protocol.codec import agent_event_to_wire
from server.protocol.errors import (
    CLOSE_LEASE_LOST,
    CLOSE_SERVICE_RESTART,
    CLOSE_TRY_AGAIN,
    SPECS,
    ErrorCode,
)
from server.redis_store import LeaseLost, RedisSessionStore
from server.tracing import end_if_unstarted, ended_on_error, open_turn
from speech.cancellation import finish_despite_cancel

log = structlog.get_logger(__name__)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class Outbox(Protocol):
    """Where a runtime sends a socket's frames. Never blocks; the connection writes them."""

    def send_text(self, text: str) -> None: ...

    def send_bytes(self, data: bytes) -> None: ...

    def close(self, code: int) -> None: ...


class RuntimeHooks(Protocol):
    """The runtime's owner (the session manager), told when to close it and when it closed."""

    def runtime_idle(self, runtime: SessionRuntime) -> None:
        """No socket and no reply (or the lease is lost): the owner should run
        ``close_if_idle()`` in a task it owns."""
        ...

    def runtime_closed(self, runtime: SessionRuntime) -> None: ...


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    lease_ms: int
    params: GenerationParams
    history_chars: int
    history_max: int = 200
    """Messages kept in memory, as in Redis (oldest dropped first)."""
    speech: SpeechConfig = field(default_factory=SpeechConfig)


class SessionRuntime:
    def __init__(
        self,
        *,
        session_id: str,
        owner: str,
        store: RedisSessionStore,
        llm: LLM,
        persona: Persona,
        history: list[HistoryItem],
        seq: int,
        config: RuntimeConfig,
        metrics: Metrics,
        hooks: RuntimeHooks,
        tts: TTS | None = None,
        retriever_for: RetrieverFor | None = None,
    ) -> None:
        self.session_id = session_id
        self.persona = persona
        """The version this session started with (pinned in Redis); it keeps it until it ends."""
        self._retriever_for = retriever_for
        self._owner = owner
        self._store = store
        self._llm = llm
        self._history = history
        self._seq = seq
        self._config = config
        self._metrics = metrics
        self._owner_hooks = hooks
        self._lock = asyncio.Lock()
        self._outbox: Outbox | None = None
        self._turn = TurnStateMachine()
        self._response: asyncio.Task[None] | None = None
        self._response_id: str | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._released = asyncio.Event()
        self._reserved = False
        """A resuming socket holds this runtime (see ``reserve``)."""
        self._lease_lost = False
        self._abandoned = False
        """Handed over (lease lost, store failed): closes regardless of socket or reply."""
        self._tts = tts
        self.audio_out = False
        """Whether the attached socket was granted audio output (set by the connection)."""
        self._streams = 0
        self._playback: PlaybackClock | None = None
        self._speech_ended_at: tuple[str, float] | None = None
        """(reply, when the user stopped speaking): closed by the reply's first playback report."""
        self._spoken = SpokenWords()

    # ── lifecycle ──────────────────────────────────────────────────────────

    def begin(self) -> None:
        """Start renewing the lease. Call once, right after the lease was taken."""
        self._lease_task = asyncio.create_task(self._keep_lease(), name=f"lease:{self.session_id}")

    @property
    def attached(self) -> bool:
        return self._outbox is not None

    @property
    def claimed(self) -> bool:
        """A socket is attached, or one is resuming the session here."""
        return self._outbox is not None or self._reserved

    def reserve(self) -> bool:
        """Hold this runtime for a resuming socket so an idle close cannot take it away between
        the lookup and ``attach_resumed``. Call synchronously right after the lookup. False when
        it is already closing: wait for ``released()``, then take the session over from Redis.
        """
        if self._closed.is_set():
            return False
        self._reserved = True
        return True

    def unreserve(self) -> None:
        """The resume failed before attaching: the runtime may be idle again."""
        self._reserved = False
        self._finish_if_idle()

    async def released(self) -> None:
        """Wait until ``close()`` has finished (the lease is free)."""
        await self._released.wait()

    @property
    def state(self) -> TurnState:
        return self._turn.state

    @property
    def history(self) -> list[HistoryItem]:
        return list(self._history)

    async def attach(self, outbox: Outbox) -> None:
        async with self._lock:
            self._outbox = outbox

    async def attach_resumed(
        self,
        outbox: Outbox,
        last_seq: int,
        make_resumed: Callable[[wire.ReplayInfo, list[wire.HistoryEntry] | None], wire.ServerEvent],
        fields: dict[str, str],
    ) -> None:
        """Replay what the client missed after ``last_seq``, then attach and emit the resumed event.

        Runs under the emit lock, so no live event slips between the replay and the attachment.
        """
        async with self._lock:
            missed = await self._store.events_after(self.session_id, last_seq)
            # Events the client missed have been trimmed from the log, or the client is ahead of
            # the log (Redis lost data): either way it gets the conversation itself.
            gap = (last_seq < self._seq and (not missed or missed[0][0] > last_seq + 1)) or (
                last_seq > self._seq
            )
            for _, payload in missed:
                outbox.send_text(payload)
            self._seq = max(self._seq, last_seq)  # seqs must keep rising for this client
            self._outbox = outbox
            self._reserved = False
            history = None
            if gap:
                history = [
                    wire.HistoryEntry(item_id=h.item_id, role=h.role, text=h.text)
                    for h in self._history[-50:]
                ]
            replay = wire.ReplayInfo(from_seq=last_seq + 1, count=len(missed), gap=gap)
            await self._emit_locked(make_resumed(replay, history), fields=fields)

    def detach(self, outbox: Outbox) -> None:
        """The socket has gone. The reply in progress, if any, runs on into the log."""
        if self._outbox is not outbox:
            return
        self._outbox = None
        self.audio_out = False
        self._finish_if_idle()

    async def close_if_idle(self) -> None:
        """``close()``, unless a socket attached or started resuming since ``runtime_idle``
        (a lost lease closes regardless)."""
        if self._abandoned or not (self.claimed or self._response is not None):
            await self.close()

    async def close(self) -> None:
        """Cancel the reply and lease renewal, release the lease. Idempotent: a second call
        returns once the first has finished."""
        if self._closed.is_set():
            await self._released.wait()
            return
        self._closed.set()
        try:
            await self._cancel_response("session_closed")
            if self._lease_task is not None:
                self._lease_task.cancel()
                await asyncio.wait({self._lease_task})
            if not self._lease_lost:
                with contextlib.suppress(Exception):
                    await self._store.release(self.session_id, self._owner)
        finally:  # whatever happened, nobody waits for this runtime forever
            self._owner_hooks.runtime_closed(self)
            self._released.set()

    async def drain(self, deadline: float) -> None:
        """Hand the session over before this process stops: let the reply in progress finish
        (until ``deadline``, on the loop's clock), tell the client to resume elsewhere
        (``session.closing``, reason ``draining``, close code 1012), then close, releasing the
        lease so another process can take the session at once."""
        loop = asyncio.get_running_loop()
        while (task := self._response) is not None and not task.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("drain_deadline_cut_reply", session_id=self.session_id)
                break
            await asyncio.wait({task}, timeout=remaining)
        outbox, self._outbox = self._outbox, None
        await self.close()  # the lease is free before the client hears it may come back
        if outbox is not None:
            notice = wire.SessionClosing(
                seq=0, reason="draining", close_code=CLOSE_SERVICE_RESTART, resumable=True
            )
            outbox.send_text(
                notice.model_copy(update={"session_id": self.session_id}).model_dump_json()
            )
            outbox.close(CLOSE_SERVICE_RESTART)

    # ── commands ───────────────────────────────────────────────────────────

    async def submit_text(self, text: str) -> None:
        """A typed user turn: interrupt any reply, store the turn, answer it."""
        turn = self._open_turn("text")
        with ended_on_error(turn):
            await self._cancel_response("interrupted")
            item = HistoryItem(new_id("item"), "user", text)
            await self.emit(ev.InputCommitted(item.item_id, text, "text"))
        self._start_response(item.item_id, turn)

    async def submit_voice_turn(
        self,
        item_id: str,
        text: str,
        *,
        replaces: bool,
        speech_ended_at: float | None = None,
        turn: Span | None = None,
    ) -> None:
        """A spoken turn ended: interrupt any reply, store the turn, answer it.

        ``replaces``: the turn resumed after a pause and was committed before; its new text
        replaces the old one. ``turn``: the turn's open trace span (voice input starts it at
        the end of speech, with the final transcription in it); ended with the reply.
        """
        turn = self._open_turn("voice", turn)
        with ended_on_error(turn):
            await self._cancel_response("interrupted")
            replaces = replaces and any(h.item_id == item_id for h in self._history)
            await self.emit(ev.InputCommitted(item_id, text, "voice", replaces))
        self._start_response(item_id, turn)
        if speech_ended_at is not None and self._response_id is not None:
            self._speech_ended_at = (self._response_id, speech_ended_at)

    async def truncate(
        self, response_id: str, *, played_chars: int | None = None, played_ms: int | None = None
    ) -> bool:
        """The client stopped playing ``response_id`` after ``played_chars`` of its text or
        ``played_ms`` of its audio: keep in history only the words it heard. Stops the reply
        first if it still runs. False if the reply is unknown."""
        if self._response_id == response_id:
            await self._cancel_response("client")
        item = next(
            (h for h in reversed(self._history) if h.item_id == response_id),
            None,
        )
        if item is None or item.role != "assistant":
            return False
        if played_ms is not None:
            heard = self._spoken.heard(response_id, played_ms)
        else:
            heard = heard_prefix(item.text, played_chars or 0)
        if heard != item.text:
            await self.emit(ev.ResponseTruncated(response_id, heard))
        return True

    def playback_position(self, response_id: str, played_ms: int, underruns: int = 0) -> None:
        """The client has played ``played_ms`` of the reply's audio (paces what is sent), and its
        buffer ran dry ``underruns`` times so far in this reply (counted in the metrics)."""
        now = time.monotonic()
        if response_id == self._response_id and self._playback is not None:
            self._playback.report(played_ms, now)
        self._metrics.playback_underruns.inc(self._spoken.new_underruns(response_id, underruns))
        if self._speech_ended_at is not None and self._speech_ended_at[0] == response_id:
            # Voice to voice: end of the user's speech to the avatar's voice at the client.
            started_playing = now - played_ms / 1000
            self._metrics.stage_latency.labels(stage="voice_to_voice").observe(
                max(0.0, started_playing - self._speech_ended_at[1])
            )
            self._speech_ended_at = None

    async def say(self, text: str) -> None:
        """Speak ``text`` exactly, without the model (greetings, handoffs)."""
        turn = self._open_turn("say")
        with ended_on_error(turn):
            await self._cancel_response("interrupted")
        self._start_response(None, turn, FixedReply(text))

    def send_audio(self, stream: int, seq: int, pts: int, sample_rate: int, pcm: bytes) -> None:
        """Send an output audio frame to the attached socket (audio is not logged or replayed)."""
        if self._outbox is not None and self.audio_out:
            frame = AudioFrame(FrameKind.OUTPUT_AUDIO, stream, seq, pts, sample_rate, pcm)
            self._outbox.send_bytes(encode_frame(frame))

    async def interrupt(self, reason: str) -> bool:
        """Stop the reply in progress (barge-in, turn extended); False if none runs."""
        return await self._cancel_response(reason)

    async def cancel(self, response_id: str | None) -> bool:
        """Cancel the reply in progress; False if there is none (or another one runs)."""
        if self._response_id is None or response_id not in (None, self._response_id):
            return False
        return await self._cancel_response("client")

    async def recover(self, pending_input: str | None, open_response: str | None) -> None:
        """Answer a turn whose previous owner died before finishing its reply."""
        if open_response:
            await self.emit(
                ev.ResponseDone(
                    open_response, "failed", "", 0, ev.ResponseTimings(None, 0.0), "server_lost"
                )
            )
        if pending_input and any(h.item_id == pending_input for h in self._history):
            self._start_response(pending_input, self._open_turn("recovered"))

    # ── events ─────────────────────────────────────────────────────────────

    async def emit(self, event: ev.AgentEvent | wire.ServerEvent) -> None:
        """Number, log (fenced), then send one event. Raises ``LeaseLost``.

        Once called, the event is delivered even if the caller is cancelled meanwhile; the
        cancellation is re-raised afterwards. So what a reply counts as sent was sent, and the
        log never holds a seq this runtime has not counted (the Redis write may already have run
        when an await on it is cancelled).
        """
        await finish_despite_cancel(self._emit_serialized(event))

    async def _emit_serialized(self, event: ev.AgentEvent | wire.ServerEvent) -> None:
        async with self._lock:
            try:
                await self._emit_locked(event)
            except LeaseLost:
                self._lose_lease()
                raise

    async def _emit_locked(
        self, event: ev.AgentEvent | wire.ServerEvent, fields: dict[str, str] | None = None
    ) -> None:
        seq = self._seq + 1
        if isinstance(event, wire.ServerEvent):
            message = event.model_copy(update={"seq": seq, "session_id": self.session_id})
        else:
            message = agent_event_to_wire(event, seq, self.session_id)
        payload = message.model_dump_json()
        history, effects = _durable_effects(event)
        replace = (isinstance(event, ev.InputCommitted) and event.replaces) or isinstance(
            event, ev.ResponseTruncated
        )
        state = self._next_state(event)
        if state is not None:
            effects["state"] = state.value
        await self._store.append(
            self.session_id,
            self._owner,
            seq=seq,
            event_json=payload,
            history=history,
            replace=replace,
            fields={**effects, **(fields or {})},
        )
        self._seq = seq
        if state is not None:
            self._turn.to(state)
        if isinstance(event, ev.AudioSegment):
            self._spoken.remember(event)
            self._metrics.unknown_phonemes.inc(event.unknown_phonemes)
        elif isinstance(event, ev.TranscriptFailed):
            self._metrics.errors.labels(code="asr_failed").inc()
        if history is not None:
            if not replace:
                self._history.append(history)
                del self._history[: -self._config.history_max]
            else:
                for i in range(len(self._history) - 1, -1, -1):
                    if self._history[i].item_id == history.item_id:
                        self._history[i] = history
                        break
        if self._outbox is not None:
            self._outbox.send_text(payload)

    # ── internals ──────────────────────────────────────────────────────────

    def _open_turn(self, kind: str, span: Span | None = None) -> Span:
        """The trace span of one turn (or ``span``, opened by voice input), described."""
        return open_turn(
            {
                "turn.input": kind,
                "session.id": self.session_id,
                "persona.id": self.persona.id,
                "persona.version": self.persona.version,
            },
            span,
        )

    def _start_response(
        self, input_item_id: str | None, turn: Span, llm: LLM | None = None
    ) -> None:
        response_id = new_id("resp")
        self._response_id = response_id
        turn.set_attribute("response.id", response_id)
        self._response = asyncio.create_task(
            self._respond(response_id, input_item_id, llm or self._llm, turn),
            name=f"response:{response_id}",
        )
        self._response.add_done_callback(lambda _: end_if_unstarted(turn))

    def _speech_for(self, response_id: str) -> SpeechOutput | None:
        if not (self.audio_out and self._tts is not None):
            return None
        self._streams = self._streams % 65535 + 1
        self._playback = PlaybackClock()
        return SpeechOutput(
            tts=self._tts,
            sink=self,
            emit=self.emit,
            response_id=response_id,
            stream=self._streams,
            clock=self._playback,
            config=replace(
                self._config.speech,
                length_scale=self.persona.voice.length_scale
                if self.persona.voice.rate != 1
                else None,
                expressions=self.persona.expressions,
            ),
        )

    async def _respond(
        self, response_id: str, input_item_id: str | None, llm: LLM, turn: Span
    ) -> None:
        """Run one reply with its turn span current (the spans of retrieval, the model and
        synthesis are its children) and end the span with the reply's outcome."""
        with trace.use_span(
            turn, end_on_exit=True, record_exception=False, set_status_on_exception=False
        ):
            await self._respond_in_turn(response_id, input_item_id, llm, turn)

    async def _respond_in_turn(
        self, response_id: str, input_item_id: str | None, llm: LLM, turn: Span
    ) -> None:
        history = list(self._history)

        async def planner() -> ReplyPlan:
            today = datetime.now(UTC).date().isoformat()
            return await plan_reply(self.persona, history, self._retriever_for, today)

        turn.set_attribute("turn.status", "error")  # replaced by the outcome below
        try:
            done = await run_response(
                llm,
                system_prompt=self.persona.system_prompt,
                history=history,
                response_id=response_id,
                input_item_id=input_item_id,
                params=self._config.params,
                history_chars=self._config.history_chars,
                emit=self.emit,
                cache_key=self.session_id,
                speech=self._speech_for(response_id),
                planner=planner if input_item_id is not None else None,
            )
            self._metrics.observe_response(done)
            turn.set_attribute("turn.status", done.status)
            if done.error_code:
                turn.set_attribute("turn.error_code", done.error_code)
                turn.set_status(Status(StatusCode.ERROR, done.error_code))
            if done.status == "failed" and done.error_code:
                await self.emit(
                    error_event(ErrorCode(done.error_code), done.reason or "model failed")
                )
        except asyncio.CancelledError as exc:
            self._metrics.turns.labels(status="cancelled").inc()
            turn.set_attributes(
                {"turn.status": "cancelled", "turn.reason": str(exc.args[0]) if exc.args else ""}
            )
            raise
        except LeaseLost:
            turn.set_attribute("turn.status", "lease_lost")
            # emit has told the client and asked for this runtime to close
        except RedisError as exc:
            turn.set_attribute("turn.status", "store_unavailable")
            turn.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            self._lose_store()
        except Exception as exc:
            turn.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            log.exception("response_failed", session_id=self.session_id)
            with contextlib.suppress(Exception):
                await self.emit(error_event(ErrorCode.INTERNAL_ERROR, "the reply failed"))
        finally:
            if self._response is asyncio.current_task():
                self._response = None
                self._response_id = None
                if self._turn.state is not TurnState.LISTENING:
                    self._turn.to(TurnState.LISTENING)
                self._finish_if_idle()

    def _next_state(self, event: ev.AgentEvent | wire.ServerEvent) -> TurnState | None:
        """The turn state an event moves the session to, if it moves it."""
        state = self._turn.state
        match event:
            case ev.ResponseCreated():
                return TurnState.THINKING
            case ev.TextDelta() if state is TurnState.THINKING:
                return TurnState.SPEAKING
            case ev.ResponseDone() if state is not TurnState.LISTENING:
                return TurnState.LISTENING
        return None

    async def _cancel_response(self, reason: str) -> bool:
        task = self._response
        if task is None or task.done():
            return False
        task.cancel(reason)
        await asyncio.wait({task})
        return True

    def _finish_if_idle(self) -> None:
        if not self.claimed and self._response is None and not self._closed.is_set():
            self._spawn_close()

    def _spawn_close(self) -> None:
        self._owner_hooks.runtime_idle(self)

    async def _keep_lease(self) -> None:
        interval = self._config.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                ok = await self._store.renew(
                    self.session_id, self._owner, self._config.lease_ms, self.attached
                )
            except Exception:
                log.warning("lease_renew_failed", session_id=self.session_id, exc_info=True)
                continue
            if not ok:
                self._lose_lease()
                return

    def _lose_lease(self) -> None:
        """Another process owns the session now: stop writing, tell the client, go away."""
        if self._lease_lost:
            return
        self._lease_lost = True
        log.warning("lease_lost", session_id=self.session_id)
        self._hand_over(
            ErrorCode.LEASE_LOST, "this server lost the session; resume it", CLOSE_LEASE_LOST
        )

    def _lose_store(self) -> None:
        """A reply's event could not be written, so this runtime can no longer tell what the log
        holds: hand the session over. The client's resume reads it back from Redis, ends the cut
        reply (``failed``/``server_lost``) and answers the committed turn again."""
        if self._abandoned:
            return
        log.warning("store_failed_mid_reply", session_id=self.session_id)
        self._hand_over(
            ErrorCode.STORE_UNAVAILABLE,
            "session storage failed mid-reply; resume the session",
            CLOSE_TRY_AGAIN,
        )

    def _hand_over(self, code: ErrorCode, message: str, close_code: int) -> None:
        """Tell the client (not logged, so not numbered: seq 0) to resume, close its socket and
        this runtime, whatever it is doing."""
        self._abandoned = True
        outbox, self._outbox = self._outbox, None
        if outbox is not None:
            notices: list[wire.ServerEvent] = [
                error_event(code, message),
                closing_event(code, close_code),
            ]
            for notice in notices:
                outbox.send_text(
                    notice.model_copy(update={"session_id": self.session_id}).model_dump_json()
                )
            outbox.close(close_code)
        self._spawn_close()


def error_event(code: ErrorCode, message: str, event_id: str | None = None) -> wire.Error:
    """An ``error`` event; seq and session_id are filled in when it is emitted."""
    return wire.Error(
        seq=0, code=code, message=message, event_id=event_id, retryable=SPECS[code].retryable
    )


_CLOSING_REASONS: dict[ErrorCode, wire.ClosingReason] = {
    ErrorCode.IDLE_TIMEOUT: "idle_timeout",
    ErrorCode.RATE_LIMITED: "rate_limited",
    ErrorCode.LEASE_LOST: "lease_lost",
    ErrorCode.STORE_UNAVAILABLE: "store_unavailable",
}


def closing_event(code: ErrorCode, close_code: int) -> wire.SessionClosing:
    """The notice sent before the server closes a socket that has a session."""
    return wire.SessionClosing(
        seq=0,
        reason=_CLOSING_REASONS.get(code, "shutdown"),
        close_code=close_code,
        resumable=code in _CLOSING_REASONS,
    )


def _durable_effects(
    event: ev.AgentEvent | wire.ServerEvent,
) -> tuple[HistoryItem | None, dict[str, str]]:
    """What an event changes in the stored session besides the log."""
    match event:
        case ev.InputCommitted(item_id, text, _):
            return HistoryItem(item_id, "user", text), {"pending_input": item_id}
        case ev.ResponseCreated(response_id, _):
            return None, {"open_response": response_id}
        case ev.ResponseDone(response_id, _, text):
            # The assistant's item takes the response's id, so a later truncation finds it.
            item = HistoryItem(response_id, "assistant", text) if text else None
            return item, {"open_response": "", "pending_input": ""}
        case ev.ResponseTruncated(response_id, text):
            return HistoryItem(response_id, "assistant", text), {}
    return None, {}
