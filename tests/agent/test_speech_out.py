"""SpeechOutput and PlaybackClock with a scripted TTS: order, pacing, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from agent import events as ev
from agent.speech_out import PlaybackClock, SpeechConfig, SpeechOutput
from speech.tts import Synthesis

RATE = 1000  # one sample per ms keeps the arithmetic readable


class ScriptedTTS:
    """Each word becomes 100 ms of audio: 'aa' for 80 ms, then a 20 ms pause."""

    sample_rate = RATE

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def synthesize(self, text: str, *, length_scale: float | None = None) -> Synthesis:
        self.spoken.append(text)
        alignments: list[tuple[str, int]] = []
        for word in text.split():
            alignments += [("ə", 80), (" ", 20)] if word else []
        samples = sum(n for _, n in alignments)
        return Synthesis(b"\x01\x00" * samples, RATE, tuple(alignments))


class Sink:
    def __init__(self) -> None:
        self.frames: list[tuple[int, int, int]] = []

    def send_audio(self, stream: int, seq: int, pts: int, sample_rate: int, pcm: bytes) -> None:
        self.frames.append((seq, pts, len(pcm) // 2))


def test_the_clock_holds_frames_beyond_the_budget() -> None:
    clock = PlaybackClock()
    assert clock.wait_s(sent_ms=5000, ahead_ms=800, now=0.0) == 0.0, "nothing played yet"
    clock.started(now=10.0)
    assert clock.wait_s(sent_ms=500, ahead_ms=800, now=10.0) == 0.0
    assert clock.wait_s(sent_ms=1800, ahead_ms=800, now=10.5) == pytest.approx(0.5)
    clock.report(played_ms=200, now=11.0)  # the client is behind the wall clock
    assert clock.played_ms(now=11.0) == 200
    assert clock.wait_s(sent_ms=1800, ahead_ms=800, now=11.0) == pytest.approx(0.8)


async def test_segments_come_before_their_audio_and_the_stream_is_continuous() -> None:
    tts, sink = ScriptedTTS(), Sink()
    events: list[ev.AgentEvent] = []
    order: list[str] = []

    async def emit(event: ev.AgentEvent) -> None:
        events.append(event)
        order.append(f"segment:{len(sink.frames)}")

    async with SpeechOutput(
        tts=tts,
        sink=sink,
        emit=emit,
        response_id="r",
        stream=3,
        clock=PlaybackClock(),
        config=SpeechConfig(frame_ms=40, ahead_ms=100_000),
    ) as speech:
        speech.push("Hello there, how are you today? I am fine,")
        speech.push(" thanks for asking.")
        await speech.finish()

    segments = [e for e in events if isinstance(e, ev.AudioSegment)]
    assert [s.text for s in segments] == tts.spoken
    assert " ".join(tts.spoken) == "Hello there, how are you today? I am fine, thanks for asking."
    running = 0
    for segment in segments:
        assert segment.pts == running, "each segment starts where the last one ended"
        running += segment.samples
    assert [seq for seq, _, _ in sink.frames] == list(range(len(sink.frames)))
    assert sum(n for _, _, n in sink.frames) == sum(s.samples for s in segments)
    assert order[0] == "segment:0", "the first segment's timings come before any audio"
    for segment in segments:
        assert segment.visemes[-1].start_ms + segment.visemes[-1].duration_ms == segment.samples


async def test_cancelling_mid_segment_stops_the_audio_at_once() -> None:
    tts, sink = ScriptedTTS(), Sink()
    now = [0.0]

    async def emit(event: ev.AgentEvent) -> None:
        return None

    speech = SpeechOutput(
        tts=tts,
        sink=sink,
        emit=emit,
        response_id="r",
        stream=1,
        clock=PlaybackClock(),
        config=SpeechConfig(frame_ms=40, ahead_ms=200),
        now=lambda: now[0],  # time stands still: the budget blocks after 200 ms of audio
    )
    async with speech:
        speech.push("One two three four five six seven eight nine ten.")
        finishing = asyncio.create_task(speech.finish())
        await asyncio.sleep(0.05)
        sent = len(sink.frames)
        finishing.cancel()
        await asyncio.wait({finishing})
    await asyncio.sleep(0.05)
    assert 0 < sent <= 7, "paced: about ahead_ms of audio (200 ms = 5 frames of 40 ms) went out"
    assert len(sink.frames) == sent, "nothing more was sent after the cancel"
