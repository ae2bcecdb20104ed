"""speech/vad_segmenter.py: hysteresis from VAD probabilities to speech start/stop events.

With the default config a chunk is 512 samples (32 ms): speech starts on the 5th voiced chunk
(160 ms = 2,560 samples, exactly 5 chunks) and stops on the 8th silent one (240 ms = 3,840
samples, so 7.5 chunks, rounded up by the chunk grid).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speech.vad_segmenter import (
    SpeechStarted,
    SpeechStopped,
    VadConfig,
    VadEvent,
    VadSegmenter,
)

CHUNK = 512
VOICED = 0.9
BETWEEN = 0.4  # between release (0.35) and threshold (0.5)
SILENT = 0.1
CHUNKS_TO_START = 5
CHUNKS_TO_STOP = 8


def feed(segmenter: VadSegmenter, probabilities: list[float]) -> list[tuple[int, VadEvent]]:
    """Push each probability; return (index of the chunk that caused it, event) per event."""
    events = []
    for index, probability in enumerate(probabilities):
        event = segmenter.push(probability)
        if event is not None:
            events.append((index, event))
    return events


def speaking_segmenter(config: VadConfig | None = None) -> VadSegmenter:
    """A segmenter that has just started speech at sample 0."""
    segmenter = VadSegmenter(config or VadConfig())
    assert feed(segmenter, [VOICED] * CHUNKS_TO_START) == [(CHUNKS_TO_START - 1, SpeechStarted(0))]
    return segmenter


# ── starting ─────────────────────────────────────────────────────────────────


def test_speech_starts_on_the_chunk_that_completes_min_speech_at_its_first_voiced_sample() -> None:
    segmenter = VadSegmenter()

    events = feed(segmenter, [SILENT] * 3 + [VOICED] * CHUNKS_TO_START)

    assert events == [(3 + CHUNKS_TO_START - 1, SpeechStarted(3 * CHUNK))]
    assert segmenter.speaking


def test_voiced_chunks_shorter_than_min_speech_start_nothing() -> None:
    segmenter = VadSegmenter()

    events = feed(segmenter, [VOICED] * (CHUNKS_TO_START - 1))

    assert events == []
    assert not segmenter.speaking


def test_short_blips_separated_by_silence_are_rejected_not_added_up() -> None:
    segmenter = VadSegmenter()
    blip = [VOICED] * (CHUNKS_TO_START - 1)

    events = feed(segmenter, [*blip, SILENT] * 10)

    assert events == []
    assert not segmenter.speaking


def test_values_between_release_and_threshold_neither_start_speech_nor_cancel_a_candidate() -> None:
    segmenter = VadSegmenter()

    events = feed(segmenter, [SILENT, VOICED, VOICED] + [BETWEEN] * 50 + [VOICED] * 3)

    # 2 + 3 voiced chunks add up across the in-between run; the start is the first voiced one.
    assert events == [(2 + 50 + 3, SpeechStarted(1 * CHUNK))]


def test_values_between_release_and_threshold_alone_never_start_speech() -> None:
    segmenter = VadSegmenter()

    assert feed(segmenter, [BETWEEN] * 200) == []
    assert not segmenter.speaking


def test_a_probability_equal_to_the_threshold_counts_as_voiced() -> None:
    segmenter = VadSegmenter(VadConfig(threshold=0.5))

    assert feed(segmenter, [0.5] * CHUNKS_TO_START) == [(CHUNKS_TO_START - 1, SpeechStarted(0))]


# ── stopping ─────────────────────────────────────────────────────────────────


def test_speech_stops_after_min_silence_at_the_first_silent_sample() -> None:
    segmenter = speaking_segmenter()
    feed(segmenter, [VOICED] * 10)
    silence_start = (CHUNKS_TO_START + 10) * CHUNK

    events = feed(segmenter, [SILENT] * CHUNKS_TO_STOP)

    assert events == [(CHUNKS_TO_STOP - 1, SpeechStopped(silence_start))]
    assert not segmenter.speaking
    assert segmenter.position == silence_start + CHUNKS_TO_STOP * CHUNK


def test_silence_shorter_than_min_silence_keeps_speaking() -> None:
    segmenter = speaking_segmenter()

    events = feed(segmenter, ([SILENT] * (CHUNKS_TO_STOP - 1) + [VOICED]) * 10)

    assert events == []
    assert segmenter.speaking


def test_a_voiced_chunk_restarts_the_silence_count() -> None:
    segmenter = speaking_segmenter()
    feed(segmenter, [SILENT] * (CHUNKS_TO_STOP - 1) + [VOICED])
    silence_start = segmenter.position

    events = feed(segmenter, [SILENT] * CHUNKS_TO_STOP)

    assert events == [(CHUNKS_TO_STOP - 1, SpeechStopped(silence_start))]


def test_values_between_release_and_threshold_never_stop_speech() -> None:
    segmenter = speaking_segmenter()

    assert feed(segmenter, [BETWEEN] * 200) == []
    assert segmenter.speaking


def test_values_between_release_and_threshold_do_not_cancel_a_pending_stop() -> None:
    segmenter = speaking_segmenter()
    silence_start = segmenter.position

    events = feed(segmenter, [SILENT] + [BETWEEN] * (CHUNKS_TO_STOP - 1))

    assert events == [(CHUNKS_TO_STOP - 1, SpeechStopped(silence_start))]


def test_after_a_stop_the_next_start_needs_min_speech_again() -> None:
    segmenter = speaking_segmenter()
    feed(segmenter, [SILENT] * CHUNKS_TO_STOP)
    restart = segmenter.position

    events = feed(segmenter, [VOICED] * CHUNKS_TO_START)

    assert events == [(CHUNKS_TO_START - 1, SpeechStarted(restart))]


def test_min_silence_on_the_chunk_grid_stops_after_exactly_that_many_chunks() -> None:
    # 64 ms at 16 kHz = 1,024 samples = 2 chunks, no rounding.
    segmenter = speaking_segmenter(VadConfig(min_silence_ms=64))

    events = feed(segmenter, [SILENT, SILENT])

    assert events == [(1, SpeechStopped(CHUNKS_TO_START * CHUNK))]


# ── offsets and configuration ────────────────────────────────────────────────


def test_offsets_follow_the_configured_chunk_size_and_rate() -> None:
    # 8 kHz, 256-sample chunks (32 ms): 96 ms of speech = 768 samples = 3 chunks.
    config = VadConfig(sample_rate=8000, chunk_samples=256, min_speech_ms=96, min_silence_ms=64)
    segmenter = VadSegmenter(config)

    events = feed(segmenter, [SILENT] * 7 + [VOICED] * 3 + [VOICED] * 4 + [SILENT] * 2)

    assert events == [(9, SpeechStarted(7 * 256)), (15, SpeechStopped(14 * 256))]
    assert segmenter.position == 16 * 256


def test_position_counts_every_sample_consumed() -> None:
    segmenter = VadSegmenter()

    feed(segmenter, [SILENT, VOICED, BETWEEN])

    assert segmenter.position == 3 * CHUNK


@pytest.mark.parametrize(
    ("threshold", "release"),
    [(0.5, 0.0), (0.5, -0.1), (0.5, 0.6), (1.0, 0.5), (1.2, 0.5)],
)
def test_config_rejects_a_release_outside_zero_to_threshold(
    threshold: float, release: float
) -> None:
    with pytest.raises(ValueError, match="release <= threshold"):
        VadConfig(threshold=threshold, release=release)


def test_config_accepts_release_equal_to_threshold() -> None:
    segmenter = VadSegmenter(VadConfig(threshold=0.5, release=0.5))

    events = feed(segmenter, [0.5] * CHUNKS_TO_START + [0.49] * CHUNKS_TO_STOP)

    assert [type(event) for _, event in events] == [SpeechStarted, SpeechStopped]


# ── properties ───────────────────────────────────────────────────────────────

probabilities = st.lists(
    st.one_of(st.sampled_from([0.0, 0.34, 0.35, 0.49, 0.5, 1.0]), st.floats(0.0, 1.0)),
    max_size=400,
)
configs = st.builds(
    VadConfig,
    threshold=st.sampled_from([0.5, 0.6]),
    release=st.sampled_from([0.2, 0.35, 0.5]),
    min_speech_ms=st.integers(0, 300),
    min_silence_ms=st.integers(0, 600),
    chunk_samples=st.sampled_from([256, 512]),
)


@settings(deadline=None)  # pure and fast; a busy machine must not make it flaky
@given(probabilities, configs)
def test_events_alternate_from_a_start_with_increasing_chunk_aligned_offsets(
    values: list[float], config: VadConfig
) -> None:
    segmenter = VadSegmenter(config)
    events: list[VadEvent] = []

    for value in values:
        event = segmenter.push(value)
        if event is not None:
            events.append(event)
            # An event never points past the audio consumed so far.
            assert event.sample < segmenter.position
        assert segmenter.speaking == isinstance(events[-1] if events else None, SpeechStarted)

    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped] * (len(events) // 2) + [
        SpeechStarted
    ] * (len(events) % 2)
    offsets = [event.sample for event in events]
    assert offsets == sorted(set(offsets))
    assert all(offset % config.chunk_samples == 0 for offset in offsets)
    assert segmenter.position == len(values) * config.chunk_samples


@pytest.mark.parametrize(
    "bad",
    [{"min_speech_ms": -1}, {"min_silence_ms": -32}, {"chunk_samples": 0}, {"sample_rate": 0}],
)
def test_negative_durations_and_empty_chunks_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        VadConfig(**bad)  # type: ignore[arg-type]
