"""speech/audio.py: 16-bit PCM conversion and the streaming resampler."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from speech.audio import MODEL_RATE, StreamResampler, float_to_pcm16, pcm16_to_float

LSB = 1 / 32768


def sine(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def resample_in_pieces(
    resampler: StreamResampler, audio: np.ndarray, sizes: list[int]
) -> np.ndarray:
    """Feed ``audio`` in pieces of the given sizes, cycling through them."""
    out, start, i = [], 0, 0
    while start < len(audio):
        size = sizes[i % len(sizes)]
        out.append(resampler.process(audio[start : start + size]))
        start += size
        i += 1
    return np.concatenate(out)


# ── PCM ──────────────────────────────────────────────────────────────────────


def test_every_16_bit_value_survives_a_round_trip_through_float() -> None:
    pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()

    samples = pcm16_to_float(pcm)

    assert samples.dtype == np.float32
    assert float_to_pcm16(samples) == pcm


def test_pcm_is_little_endian_and_scaled_to_minus_one_to_one() -> None:
    samples = pcm16_to_float(b"\x01\x00\xff\x7f\x00\x80")

    assert samples.tolist() == [LSB, 32767 * LSB, -1.0]


def test_float_to_pcm_and_back_is_within_one_step() -> None:
    samples = np.random.default_rng(0).uniform(-1, 1, 10_000).astype(np.float32)

    back = pcm16_to_float(float_to_pcm16(samples))

    assert np.abs(back - samples).max() <= LSB


def test_samples_beyond_full_scale_are_clipped_not_wrapped() -> None:
    samples = np.array([1.0, 1.5, 100.0, -1.0, -1.5, -100.0], dtype=np.float32)

    pcm = np.frombuffer(float_to_pcm16(samples), dtype="<i2")

    assert pcm.tolist() == [32767, 32767, 32767, -32768, -32768, -32768]


# ── StreamResampler ──────────────────────────────────────────────────────────


def test_resampler_at_the_model_rate_passes_audio_through_unchanged() -> None:
    audio = sine(MODEL_RATE, 0.1)
    resampler = StreamResampler(MODEL_RATE)

    out = resampler.process(audio)

    assert np.array_equal(out, audio)
    assert resampler.out_rate == MODEL_RATE


@pytest.mark.parametrize(
    "sizes",
    [[960], [480], [7, 333, 1, 1024], [48_000]],
    ids=["20ms", "10ms", "ragged", "1s"],
)
def test_48k_in_small_pieces_matches_one_pass(sizes: list[int]) -> None:
    audio = sine(48_000, 2.0)
    one_pass = StreamResampler(48_000).process(audio)

    pieces = resample_in_pieces(StreamResampler(48_000), audio, sizes)

    assert pieces.dtype == np.float32
    assert abs(len(pieces) - len(one_pass)) <= 3
    n = min(len(pieces), len(one_pass))
    np.testing.assert_allclose(pieces[:n], one_pass[:n], atol=1e-5)


def test_resampled_stream_keeps_the_pitch_and_the_level() -> None:
    audio = sine(44_100, 1.0, hz=1000.0)

    out = resample_in_pieces(StreamResampler(44_100), audio, [882])

    spectrum = np.abs(np.fft.rfft(out[2000:]))
    peak_hz = np.fft.rfftfreq(len(out) - 2000, 1 / MODEL_RATE)[spectrum.argmax()]
    assert abs(peak_hz - 1000.0) < 2.0
    assert np.abs(out[2000:]).max() == pytest.approx(0.5, abs=0.01)


def test_stream_holds_back_only_the_filter_delay() -> None:
    """The stream has no flush: its last ~12 ms stay in the filter until more audio comes.

    That is harmless for a live stream (more audio always follows) and is bounded here.
    """
    audio = sine(48_000, 2.0)
    reference = soxr.resample(audio, 48_000, MODEL_RATE, quality="HQ")

    out = resample_in_pieces(StreamResampler(48_000), audio, [960])

    withheld = len(reference) - len(out)
    assert 0 <= withheld <= 0.015 * MODEL_RATE
    np.testing.assert_allclose(out, reference[: len(out)], atol=1e-5)
