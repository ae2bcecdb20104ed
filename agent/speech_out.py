"""The spoken side of one reply: text deltas → clauses → TTS → timed segments and audio frames.

Two tasks, owned by ``SpeechOutput`` (an async context manager, so the reply that opens it
also cancels it): the synthesiser turns chunks into audio one ahead of the sender, and the
sender emits each segment's event (text, words, visemes, expressions, all in ms from the
segment's first sample) and then its audio in frames, keeping at most ``ahead_ms`` of audio
queued ahead of the listener (estimated from the client's playback reports, or from the clock
until the first report). So a barge-in never has more than ``ahead_ms`` buffered to throw away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from agent import events as ev
from speech.chunker import Chunk, ExpressionCue, SpeechChunker, classify_expression
from speech.timeline import build_timeline
from speech.tts import Synthesis

_tracer = trace.get_tracer(__name__)


class TTS(Protocol):
    @property
    def sample_rate(self) -> int: ...

    async def synthesize(self, text: str, *, length_scale: float | None = None) -> Synthesis: ...


class AudioSink(Protocol):
    def send_audio(self, stream: int, seq: int, pts: int, sample_rate: int, pcm: bytes) -> None:
        """Send one output audio frame (dropped if no socket is attached)."""
        ...


@dataclass(frozen=True, slots=True)
class SpeechConfig:
    frame_ms: int = 40
    ahead_ms: int = 800
    """Audio sent beyond what the listener has played, at most."""
    length_scale: float | None = None
    """Speaking rate of the persona's voice (Piper length scale; None: the voice's own)."""
    expressions: Mapping[str, str] = field(default_factory=dict)
    """Expression cue → the avatar expression the persona shows for it (unlisted: itself)."""


class PlaybackClock:
    """Where the listener is in a reply's audio (pure: times are passed in).

    Before any report it assumes playback started with the first frame and runs in real time;
    a report (``played_ms`` at time ``now``) replaces that estimate.
    """

    def __init__(self) -> None:
        self._anchor_ms = 0.0
        self._anchor_at: float | None = None

    def started(self, now: float) -> None:
        if self._anchor_at is None:
            self._anchor_at = now

    def report(self, played_ms: float, now: float) -> None:
        self._anchor_ms = played_ms
        self._anchor_at = now

    def played_ms(self, now: float) -> float:
        if self._anchor_at is None:
            return 0.0
        return self._anchor_ms + (now - self._anchor_at) * 1000

    def wait_s(self, sent_ms: float, ahead_ms: float, now: float) -> float:
        """How long to hold the next frame so no more than ``ahead_ms`` is queued."""
        if self._anchor_at is None:
            return 0.0
        return max(0.0, (sent_ms - self.played_ms(now) - ahead_ms) / 1000)


class SpeechOutput:
    def __init__(
        self,
        *,
        tts: TTS,
        sink: AudioSink,
        emit: Callable[[ev.AgentEvent], Awaitable[None]],
        response_id: str,
        stream: int,
        clock: PlaybackClock,
        config: SpeechConfig = SpeechConfig(),
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tts = tts
        self._sink = sink
        self._emit = emit
        self._response_id = response_id
        self._stream = stream
        self._clock = clock
        self._config = config
        self._now = now
        self._chunker = SpeechChunker()
        self._chunks: asyncio.Queue[Chunk | None] = asyncio.Queue()  # None: no more text
        self._ready: asyncio.Queue[tuple[Chunk, Synthesis] | None] = asyncio.Queue(maxsize=1)
        self._tasks: list[asyncio.Task[None]] = []
        self.sent_ms = 0.0

    async def __aenter__(self) -> SpeechOutput:
        self._tasks = [
            asyncio.create_task(self._synthesise(), name=f"tts:{self._response_id}"),
            asyncio.create_task(self._send(), name=f"audio:{self._response_id}"),
        ]
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks)

    def push(self, delta: str) -> None:
        for chunk in self._chunker.push(delta):
            self._chunks.put_nowait(chunk)

    async def finish(self) -> None:
        """The text is complete: speak what remains and wait until all audio has been sent."""
        for chunk in self._chunker.flush():
            self._chunks.put_nowait(chunk)
        self._chunks.put_nowait(None)
        await asyncio.gather(*self._tasks)

    async def _synthesise(self) -> None:
        segment = 0
        while (chunk := await self._chunks.get()) is not None:
            # A child of the reply's turn span (this task copied its context). No text in it, nor
            # in its status: an error is named by its type only.
            with _tracer.start_as_current_span(
                "tts.synthesize",
                attributes={"tts.segment": segment, "tts.chars": len(chunk.text)},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    synthesis = await self._tts.synthesize(
                        chunk.text, length_scale=self._config.length_scale
                    )
                except Exception as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
                span.set_attributes(
                    {
                        "tts.samples": synthesis.samples,
                        "tts.audio_ms": round(synthesis.samples / synthesis.sample_rate * 1000)
                        if synthesis.sample_rate
                        else 0,
                    }
                )
            await self._ready.put((chunk, synthesis))
            segment += 1
        await self._ready.put(None)

    async def _send(self) -> None:
        segment_id = 0
        pts = 0
        frame = self._tts.sample_rate * self._config.frame_ms // 1000
        seq = 0
        while (item := await self._ready.get()) is not None:
            chunk, synthesis = item
            timeline = build_timeline(synthesis.alignments, synthesis.sample_rate, chunk.text)
            cues = chunk.expressions
            if not cues and (guess := classify_expression(chunk.text)):
                cues = (ExpressionCue(0, guess),)  # the model gave no tag: a cheap fallback
            await self._emit(
                ev.AudioSegment(
                    response_id=self._response_id,
                    segment_id=segment_id,
                    stream=self._stream,
                    pts=pts,
                    sample_rate=synthesis.sample_rate,
                    samples=synthesis.samples,
                    text=chunk.text,
                    words=timeline.words,
                    visemes=timeline.visemes,
                    expressions=tuple(
                        ev.ExpressionTiming(
                            self._config.expressions.get(cue.name, cue.name),
                            cue.word_index,
                            timeline.words[cue.word_index].start_ms
                            if cue.word_index < len(timeline.words)
                            else 0,
                        )
                        for cue in cues
                    ),
                    unknown_phonemes=len(timeline.unknown),
                )
            )
            for start in range(0, synthesis.samples, frame):
                pcm = synthesis.pcm[start * 2 : (start + frame) * 2]
                await asyncio.sleep(
                    self._clock.wait_s(self.sent_ms, self._config.ahead_ms, self._now())
                )
                self._clock.started(self._now())
                self._sink.send_audio(self._stream, seq, pts, synthesis.sample_rate, pcm)
                if seq == 0:
                    trace.get_current_span().add_event(
                        "first_audio_sent", {"response.id": self._response_id}
                    )
                seq += 1
                pts += len(pcm) // 2
                self.sent_ms += len(pcm) / 2 / synthesis.sample_rate * 1000
            segment_id += 1
