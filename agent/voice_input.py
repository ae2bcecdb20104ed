"""Voice input of one session: audio → 16 kHz → Silero VAD → segments → turn policy → Whisper.

``push`` is called with each audio frame, in order, by the connection. VAD runs per frame (in
the VAD model's executor); transcriptions run as tasks owned here (in the ASR model's shared
executor), so the audio keeps flowing while Whisper works and a barge-in is seen in the very
frame that carries it. Three kinds of transcription:

- partials while the user speaks, at most one at a time, skipped while the shared ASR queue is
  busy (finals matter more);
- a speculative final as soon as the VAD reports the end of speech, on exactly the audio a final
  would use, so at the end of the turn the transcript is usually ready already;
- the final, which reuses the speculative one when no speech came after it.

A turn that ends in words opens the ``turn`` span of its trace (starting when the user stopped
speaking) with an ``asr.final`` child (the final transcription, from when it started), and
hands it to the conversation, which ends it with the reply. A failed transcription is logged:
a partial is skipped, a final ends the turn without a reply.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span

from agent import events as ev
from agent.personas import TurnTaking
from agent.turn_state import TurnState
from agent.voice_turns import (
    BargeIn,
    Phase,
    TurnConfig,
    TurnEnded,
    TurnExtended,
    TurnStarted,
    VoiceTurnPolicy,
)
from speech.asr import Transcript
from speech.audio import MODEL_RATE, Samples, StreamResampler
from speech.local_agreement import LocalAgreement
from speech.vad import SileroVAD
from speech.vad_segmenter import SpeechStarted, SpeechStopped, VadConfig, VadSegmenter

_MS = MODEL_RATE // 1000

log = structlog.get_logger(__name__)
_tracer = trace.get_tracer(__name__)


class ASR(Protocol):
    """Speech recognition shared by the sessions of a process (speech/asr.py's
    ``FasterWhisperASR`` in process, speech/remote_asr.py's ``OpenAITranscriptionASR``)."""

    @property
    def queue_depth(self) -> int:
        """Transcriptions waiting to start; partials are skipped while any wait."""
        ...

    async def transcribe(
        self, audio: Samples, *, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        """Transcribe 16 kHz mono float audio; raises on failure (the engine's error)."""
        ...


class Conversation(Protocol):
    """What voice input needs from its session (the server's SessionRuntime provides it)."""

    @property
    def state(self) -> TurnState: ...

    async def emit(self, event: ev.AgentEvent) -> None: ...

    async def submit_voice_turn(
        self,
        item_id: str,
        text: str,
        *,
        replaces: bool,
        speech_ended_at: float | None = None,
        turn: Span | None = None,
    ) -> None:
        """Answer a spoken turn. ``turn`` is its open trace span; the conversation ends it."""
        ...

    async def interrupt(self, reason: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    vad: VadConfig = field(default_factory=VadConfig)
    turns: TurnConfig = field(default_factory=TurnConfig)
    partial_interval_ms: int = 700
    pad_ms: int = 200
    """Audio kept before the detected start and after the end of speech for transcription."""
    early_final_ms: int = 96
    """Pause after which a speculative final transcription starts (if the ASR is idle), before
    the VAD confirms the end of speech; reused when the confirmed stop is the same."""
    max_turn_ms: int = 30_000
    hotwords: str | None = None
    barge_in: bool = True
    """Speech over a reply stops it at once. Off: the reply goes on until the user's turn is
    complete (then it is interrupted as by a typed message)."""
    """Vocabulary to bias recognition toward (persona and knowledge base terms)."""


def with_turn_taking(config: VoiceConfig, persona: TurnTaking) -> VoiceConfig:
    """``config`` with a persona's turn-taking overrides applied (unset ones keep the server's)."""
    o = persona.overrides()
    turn_fields = ("silence_ms", "min_silence_ms", "max_silence_ms", "echo_guard_ms")
    turns = replace(config.turns, **{k: int(o[k]) for k in turn_fields if k in o})
    vad = config.vad
    if "min_speech_ms" in o:
        vad = replace(vad, min_speech_ms=int(o["min_speech_ms"]))
    return replace(config, turns=turns, vad=vad, barge_in=bool(o.get("barge_in", config.barge_in)))


class VoiceInput:
    def __init__(
        self,
        conversation: Conversation,
        vad: SileroVAD,
        asr: ASR,
        config: VoiceConfig,
        input_rate: int,
    ) -> None:
        self._conv = conversation
        self._vad = vad
        self._asr = asr
        self._config = config
        self._resampler = StreamResampler(input_rate)
        self._stream = vad.new_stream()
        self._segmenter = VadSegmenter(config.vad)
        self._policy = VoiceTurnPolicy(config.turns)
        self._agreement = LocalAgreement()
        self._audio = np.zeros(0, dtype=np.float32)
        self._audio_offset = 0  # sample index (16 kHz clock) of self._audio[0]
        self._item_id = ""
        self._committed_text = ""
        self._last_partial_at = 0
        self._partial_task: asyncio.Task[None] | None = None
        self._speculative: tuple[int, asyncio.Task[Transcript], int] | None = None
        """(stop sample it transcribes up to, its task, when it started in wall-clock ns)."""
        self._finalize_task: asyncio.Task[None] | None = None
        self.input_rate = input_rate

    @property
    def phase(self) -> Phase:
        return self._policy.phase

    async def push(self, samples: Samples) -> None:
        """Feed one frame of audio at the input rate."""
        audio = self._resampler.process(samples)
        self._keep(audio)
        for probability in await self._vad.probabilities(self._stream, audio):
            vad_event = self._segmenter.push(probability)
            now_ms = self._segmenter.position // _MS
            self._sync_reply_state(now_ms)
            if isinstance(vad_event, SpeechStarted):
                await self._on_speech_started(vad_event.sample // _MS)
            elif isinstance(vad_event, SpeechStopped):
                await self._on_speech_stopped(vad_event.sample)
            self._maybe_early_final()
            decision = self._policy.tick(now_ms)
            if isinstance(decision, TurnEnded):
                self._finalize_task = asyncio.create_task(
                    self._finalize(decision), name=f"voice-final:{self._item_id}"
                )
            self._maybe_partial(now_ms)

    async def close(self) -> None:
        """Cancel transcriptions in flight; the stream ends."""
        tasks: list[asyncio.Task[Any] | None] = [self._partial_task, self._finalize_task]
        if self._speculative is not None:
            tasks.append(self._speculative[1])
        pending = {t for t in tasks if t is not None and not t.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # ── VAD facts → turn decisions ─────────────────────────────────────────

    async def _on_speech_started(self, at_ms: int) -> None:
        decision = self._policy.speech_started(at_ms)
        if isinstance(decision, BargeIn) and self._config.barge_in:
            # Stop the reply in the same frame that revealed the speech.
            await self._conv.interrupt("barge_in")
        if isinstance(decision, BargeIn | TurnStarted):
            self._begin_turn(at_ms)
        elif isinstance(decision, TurnExtended):
            await self._drop_pending_reply()
        if self._item_id:
            await self._conv.emit(ev.SpeechStarted(self._item_id, at_ms))

    async def _on_speech_stopped(self, sample: int) -> None:
        self._policy.speech_stopped(sample // _MS)
        if self._policy.phase is Phase.USER_PAUSED and self._item_id:
            await self._conv.emit(ev.SpeechStopped(self._item_id, sample // _MS))
            if self._speculative is None or self._speculative[0] != sample:
                self._start_speculative(sample)

    def _maybe_early_final(self) -> None:
        pause_from = self._segmenter.pending_stop
        if pause_from is None or self._policy.phase is not Phase.USER_SPEAKING:
            return
        if self._segmenter.position - pause_from < self._config.early_final_ms * _MS:
            return
        if self._speculative is not None and self._speculative[0] == pause_from:
            return
        if self._asr.queue_depth > 0:
            return  # spare the shared model; the VAD's confirmation will start it
        self._start_speculative(pause_from)

    def _begin_turn(self, at_ms: int) -> None:
        self._item_id = f"item_{secrets.token_hex(8)}"
        self._committed_text = ""
        if self._speculative is not None:
            self._speculative[1].cancel()
            self._speculative = None
        self._agreement.reset()
        self._last_partial_at = at_ms
        start = max(self._audio_offset, at_ms * _MS - self._config.pad_ms * _MS)
        self._audio = self._audio[start - self._audio_offset :]
        self._audio_offset = start

    async def _drop_pending_reply(self) -> None:
        task = self._finalize_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        await self._conv.interrupt("turn_extended")

    def _sync_reply_state(self, now_ms: int) -> None:
        state = self._conv.state
        if state is TurnState.SPEAKING:
            self._policy.reply_started(now_ms)
        elif state is TurnState.LISTENING and (
            self._finalize_task is None or self._finalize_task.done()
        ):
            self._policy.reply_finished()

    # ── audio buffer ───────────────────────────────────────────────────────

    def _keep(self, audio: Samples) -> None:
        self._audio = np.concatenate([self._audio, audio])
        in_turn = self._policy.phase in (
            Phase.USER_SPEAKING,
            Phase.USER_PAUSED,
            Phase.AWAITING_REPLY,
        )
        keep = (self._config.max_turn_ms if in_turn else self._config.pad_ms * 2) * _MS
        if len(self._audio) > keep:
            drop = len(self._audio) - keep
            self._audio = self._audio[drop:]
            self._audio_offset += drop

    def _turn_audio(self, end_sample: int) -> Samples:
        end = end_sample + self._config.pad_ms * _MS - self._audio_offset
        return self._audio[: max(0, end)].copy()

    # ── transcription ──────────────────────────────────────────────────────

    def _maybe_partial(self, now_ms: int) -> None:
        if self._policy.phase is not Phase.USER_SPEAKING:
            return
        if self._segmenter.pending_stop is not None:
            return  # a pause is under way: the speculative final is what matters now
        if now_ms - self._last_partial_at < self._config.partial_interval_ms:
            return
        if self._partial_task is not None and not self._partial_task.done():
            return
        if self._asr.queue_depth > 0:
            return  # the shared model is busy; finals go first
        self._last_partial_at = now_ms
        audio = self._audio.copy()
        self._partial_task = asyncio.create_task(
            self._partial(self._item_id, audio), name=f"voice-partial:{self._item_id}"
        )

    async def _partial(self, item_id: str, audio: Samples) -> None:
        try:
            result = await self._asr.transcribe(audio, hotwords=self._config.hotwords)
        except Exception as exc:  # task boundary: a lost partial only delays the captions
            log.warning("asr_partial_failed", item_id=item_id, error=str(exc))
            return
        if item_id != self._item_id or not result.text:
            return
        stable, unstable = self._agreement.update(result.text)
        self._policy.partial(result.text)
        await self._conv.emit(ev.TranscriptPartial(item_id, stable, unstable))

    def _start_speculative(self, stop_sample: int) -> None:
        if self._speculative is not None and not self._speculative[1].done():
            self._speculative[1].cancel()  # that pause ended in more speech
        audio = self._turn_audio(stop_sample)
        task = asyncio.create_task(
            self._asr.transcribe(audio, hotwords=self._config.hotwords),
            name=f"voice-speculative:{self._item_id}",
        )
        task.add_done_callback(self._speculative_done)
        self._speculative = (stop_sample, task, time.time_ns())

    def _speculative_done(self, task: asyncio.Task[Transcript]) -> None:
        # Retrieving the exception here also marks it seen; the final reports it if used.
        if not task.cancelled() and task.exception() is None:
            self._policy.partial(task.result().text)

    async def _finalize(self, ended: TurnEnded) -> None:
        item_id = self._item_id
        stop_sample = ended.end_ms * _MS
        speculative = self._speculative
        try:
            if speculative is not None and speculative[0] == stop_sample:
                asr_started_ns = speculative[2]
                transcript = await asyncio.shield(speculative[1])
            else:
                asr_started_ns = time.time_ns()
                transcript = await self._asr.transcribe(
                    self._turn_audio(stop_sample), hotwords=self._config.hotwords
                )
        except Exception as exc:  # task boundary: the turn is lost, the session goes on
            log.warning("asr_final_failed", item_id=item_id, error=str(exc))
            self._policy.reply_finished()
            # The user is told, so the turn is not silently lost: they can say it again.
            await self._conv.emit(
                ev.TranscriptFailed(
                    item_id,
                    ended.start_ms,
                    ended.end_ms,
                    "the speech could not be transcribed; please say it again",
                )
            )
            return
        asr_done_ns = time.time_ns()
        text = transcript.text.strip()
        if not _is_speech(text):
            self._policy.reply_finished()  # nothing was said after all: no turn
            return
        await self._conv.emit(ev.TranscriptCompleted(item_id, text, ended.start_ms, ended.end_ms))
        # When the user stopped speaking: the audio clock is this far ahead of that moment.
        behind_s = (self._segmenter.position // _MS - ended.end_ms) / 1000
        turn = _open_turn(
            time.time_ns() - int(behind_s * 1e9),
            asr_started_ns,
            asr_done_ns,
            transcript,
            reused=speculative is not None and speculative[0] == stop_sample,
        )
        # An extended turn was committed before its pause: this text replaces that one.
        await self._conv.submit_voice_turn(
            item_id,
            text,
            replaces=bool(self._committed_text),
            speech_ended_at=time.monotonic() - behind_s,
            turn=turn,
        )
        self._committed_text = text


def _open_turn(
    speech_end_ns: int, asr_started_ns: int, asr_done_ns: int, transcript: Transcript, reused: bool
) -> Span:
    """The spoken turn's span (a new trace, from the end of speech) with its ``asr.final``
    child, recorded after the fact: only a transcript that holds words makes a turn. It links
    to the current span (the connection's, when the server traces requests)."""
    current = trace.get_current_span().get_span_context()
    turn = _tracer.start_span(
        "turn",
        context=otel_context.Context(),
        start_time=speech_end_ns,
        attributes={"turn.input": "voice"},
        links=[Link(current)] if current.is_valid else None,
    )
    asr = _tracer.start_span(
        "asr.final",
        context=trace.set_span_in_context(turn),
        start_time=max(speech_end_ns, asr_started_ns),
        attributes={
            "asr.audio_ms": round(transcript.audio_s * 1000),
            "asr.compute_ms": round(transcript.compute_s * 1000, 1),
            "asr.reused_speculative": reused,
        },
    )
    asr.end(end_time=max(speech_end_ns, asr_done_ns))
    return turn


def _is_speech(text: str) -> bool:
    """Whisper sometimes 'hears' noise as a bracketed sound or nothing at all."""
    stripped = text.strip(" .!?,")
    return bool(stripped) and not (
        stripped.startswith(("[", "(")) and stripped.endswith(("]", ")"))
    )
