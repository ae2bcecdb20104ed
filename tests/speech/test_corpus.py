"""tests/speech_corpus.py and scripts/make_test_wavs.py: the test audio is what it claims to be."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests import speech_corpus as corpus

ROOT = Path(__file__).resolve().parents[2]


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


@pytest.mark.parametrize("make", [corpus.white_noise, corpus.pink_noise])
def test_noise_has_the_requested_rms_and_is_the_same_for_the_same_seed(
    make: Callable[..., corpus.Audio],
) -> None:
    noise = make(1.0, level=0.02, seed=3)

    assert noise.dtype == np.float32
    assert len(noise) == corpus.RATE
    assert rms(noise) == pytest.approx(0.02, rel=1e-3)
    assert np.array_equal(noise, make(1.0, level=0.02, seed=3))
    assert not np.array_equal(noise, make(1.0, level=0.02, seed=4))


def test_breathing_comes_in_quiet_bursts_under_the_requested_level() -> None:
    audio = corpus.breathing(6.0, level=0.03)
    frames = audio[: len(audio) // 1600 * 1600].reshape(-1, 1600)  # 100 ms
    loudness = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))

    assert loudness.max() < 0.03 * 1.3
    assert loudness.min() < 0.001  # silent gaps between breaths
    assert np.array_equal(audio, corpus.breathing(6.0, level=0.03))


def test_padding_pause_and_concat_add_exact_sample_counts() -> None:
    core = np.ones(100, dtype=np.float32)

    padded = corpus.with_padding(core, 0.5, 1.0)
    joined = corpus.concat(core, corpus.pause(400), core)

    assert len(padded) == 8000 + 100 + 16000
    assert np.array_equal(padded[8000:8100], core)
    assert not padded[:8000].any() and not padded[8100:].any()
    assert len(joined) == 100 + 6400 + 100
    assert joined.dtype == np.float32


def test_wav_round_trip_is_16_bit_exact(tmp_path: Path) -> None:
    audio = corpus.white_noise(0.5, level=0.1)

    corpus.write_wav(tmp_path / "noise.wav", audio)
    back, rate = corpus.read_wav(tmp_path / "noise.wav")

    assert rate == corpus.RATE
    assert len(back) == len(audio)
    assert np.abs(back - audio).max() <= 1 / 32768


def test_trim_keeps_the_audible_part_on_a_5_ms_grid() -> None:
    tone = np.full(800, 0.5, dtype=np.float32)
    audio = corpus.concat(np.full(400, 1e-4, np.float32), tone, corpus.silence(0.1))

    trimmed = corpus.trim(audio)

    assert len(trimmed) == 800
    assert np.array_equal(trimmed, tone)


@pytest.mark.speech
@pytest.mark.parametrize("voice", sorted(corpus.VOICES))
def test_speech_is_deterministic_trimmed_and_cached(voice: str, tmp_path: Path) -> None:
    text = corpus.UTTERANCES[0].text

    first = corpus.speech(voice, text, cache_dir=tmp_path)
    again = corpus.speech(voice, text)  # synthesised anew, not read from the cache

    assert first.dtype == np.float32
    assert 1.0 < len(first) / corpus.RATE < 4.0
    assert np.array_equal(first, again)
    assert len(list(tmp_path.glob(f"{voice}-*.npy"))) == 1
    frame = 80  # 5 ms: first and last frames are audible
    peak = np.abs(first).max()
    assert np.abs(first[:frame]).max() >= peak / 100
    assert np.abs(first[-frame:]).max() >= peak / 100


@pytest.mark.speech
def test_make_test_wavs_writes_files_that_match_the_manifest(tmp_path: Path) -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "make_test_wavs.py"))

    assert script["main"]([str(tmp_path)]) == 0

    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sample_rate"] == corpus.RATE
    assert any(len(entry["segments"]) == 2 for entry in manifest["files"])
    for entry in manifest["files"]:
        audio, rate = corpus.read_wav(tmp_path / entry["file"])
        start = round(entry["speech_start_s"] * rate)
        end = round(entry["speech_end_s"] * rate)
        assert rate == corpus.RATE
        assert len(audio) / rate == pytest.approx(entry["duration_s"])
        assert entry["speech_start_s"] == pytest.approx(0.5)
        assert entry["duration_s"] - entry["speech_end_s"] == pytest.approx(1.0)
        assert not audio[:start].any() and not audio[end:].any()
        assert np.abs(audio[start : start + 80]).max() > 0
        for first, second in zip(entry["segments"], entry["segments"][1:], strict=False):
            assert second["start_s"] - first["end_s"] == pytest.approx(0.4)
