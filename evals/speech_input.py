"""The user's voice for spoken turns: WAV files, or text spoken by a test voice.

Everything becomes 16 kHz mono PCM16 with the speech's start and end located (the first and
last 5 ms frame within 40 dB of the peak), so latencies can be measured from the real end of
speech. ``say:`` lines are spoken by the Piper voice through the separate ``tts_worker``
program (Piper is GPL-3.0 and is never imported here, docs/adr/0002), or by eSpeak NG, run as a
program; results are cached on disk by voice and text, so a suite hears the same audio on every
run on one machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from speech.audio import MODEL_RATE, float_to_pcm16, pcm16_to_float
from speech.tts import ProcessTTS, TTSError, piper_worker_command

Samples = npt.NDArray[np.float32]

_CACHE_VERSION = 1
_FRAME_S = 0.005
_BELOW_PEAK_DB = -40.0


class SpeechInputError(RuntimeError):
    """A WAV file cannot be read, or no test voice can speak."""


@dataclass(frozen=True, slots=True)
class SpokenInput:
    """Audio for the microphone: 16 kHz mono PCM16, and where the speech in it is."""

    pcm: bytes
    speech_start_s: float
    speech_end_s: float
    source: str

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / MODEL_RATE


def speech_bounds(audio: Samples, rate: int = MODEL_RATE) -> tuple[float, float]:
    """Start and end (seconds) of the audible part: 5 ms frames within 40 dB of the peak."""
    frame = max(1, int(rate * _FRAME_S))
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak == 0.0:
        return 0.0, 0.0
    frames = len(audio) // frame
    peaks = np.abs(audio[: frames * frame]).reshape(frames, frame).max(axis=1)
    loud = np.flatnonzero(peaks >= peak * 10 ** (_BELOW_PEAK_DB / 20))
    if not len(loud):
        return 0.0, 0.0
    return loud[0] * frame / rate, (loud[-1] + 1) * frame / rate


def _to_model_rate(audio: Samples, rate: int) -> Samples:
    if rate == MODEL_RATE:
        return audio.astype(np.float32)
    out: Samples = soxr.resample(audio, rate, MODEL_RATE, quality="HQ").astype(np.float32)
    return out


def _input(audio: Samples, source: str, *, trim: bool) -> SpokenInput:
    start, end = speech_bounds(audio)
    if end <= start:
        raise SpeechInputError(f"{source}: no speech in the audio (silent)")
    if trim:
        audio = audio[int(start * MODEL_RATE) : int(end * MODEL_RATE)]
        start, end = 0.0, len(audio) / MODEL_RATE
    return SpokenInput(float_to_pcm16(audio), start, end, source)


def read_wav(path: Path) -> tuple[Samples, int]:
    """A 16-bit PCM WAV as float32 mono (channels averaged) and its sample rate."""
    try:
        with wave.open(str(path), "rb") as src:
            if src.getsampwidth() != 2:
                raise SpeechInputError(
                    f"{path}: expected 16-bit PCM, got {8 * src.getsampwidth()}-bit"
                )
            channels, rate = src.getnchannels(), src.getframerate()
            audio = pcm16_to_float(src.readframes(src.getnframes()))
    except (OSError, EOFError, wave.Error) as exc:
        raise SpeechInputError(f"{path}: not a readable WAV file ({exc})") from None
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return audio, rate


def write_wav(path: Path, pcm16: bytes, rate: int = MODEL_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".wav.tmp")
    os.close(fd)
    with wave.open(tmp, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm16)
    os.replace(tmp, path)


def load_audio(path: Path) -> SpokenInput:
    """A WAV turn, played as it is (its own silences included)."""
    audio, rate = read_wav(path)
    return _input(_to_model_rate(audio, rate), str(path), trim=False)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "avatar-agent" / "eval-speech"


class Synthesiser:
    """Speaks ``say:`` lines with the Piper worker program or eSpeak NG; one per run."""

    def __init__(self, voice: str = "piper", cache_dir: Path | None = None) -> None:
        self.voice = voice
        self.cache_dir = cache_dir
        self.fallbacks: list[str] = []
        """Why a line was spoken by eSpeak NG instead of the voice asked for."""
        self._tts: ProcessTTS | None = None
        self._piper_broken: str | None = None
        self._lock = asyncio.Lock()

    async def speak(self, text: str, voice: str | None = None) -> SpokenInput:
        voice = voice or self.voice
        path = self._cache_path(voice, text)
        if path is not None and path.is_file():
            audio, rate = read_wav(path)
            return _input(_to_model_rate(audio, rate), f"say ({voice}): {text}", trim=False)
        async with self._lock:
            used = voice
            if voice == "piper":
                try:
                    audio = await self._piper(text)
                except (TTSError, OSError) as exc:
                    self._piper_broken = self._piper_broken or str(exc)
                    self.fallbacks.append(f"Piper unavailable ({exc}); eSpeak NG spoke {text!r}")
                    audio, used = await asyncio.to_thread(_espeak, text), "espeak"
            else:
                audio = await asyncio.to_thread(_espeak, text)
        spoken = _input(audio, f"say ({used}): {text}", trim=True)
        if path is not None and used == voice:
            write_wav(path, spoken.pcm)
        return spoken

    async def _piper(self, text: str) -> Samples:
        if self._piper_broken is not None:
            raise TTSError(self._piper_broken)
        if self._tts is None:
            tts = ProcessTTS(piper_worker_command(), workers=1)
            await tts.start()
            self._tts = tts
        result = await self._tts.synthesize(text)
        if not result.samples:
            raise TTSError(f"no audio for {text!r}")
        return _to_model_rate(pcm16_to_float(result.pcm), result.sample_rate)

    def _cache_path(self, voice: str, text: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = f"{_CACHE_VERSION}\n{voice}\n{text}".encode()
        return self.cache_dir / f"{voice}-{hashlib.sha256(key).hexdigest()[:16]}.wav"

    async def aclose(self) -> None:
        if self._tts is not None:
            await self._tts.aclose()
            self._tts = None


def _espeak(text: str, voice: str = "en-us", speed: int = 160) -> Samples:
    program = shutil.which("espeak-ng")
    if program is None:
        raise SpeechInputError("no test voice: the Piper worker failed and espeak-ng is missing")
    with tempfile.TemporaryDirectory(prefix="eval-espeak-") as folder:
        out = Path(folder) / "out.wav"
        subprocess.run(
            [program, "-v", voice, "-s", str(speed), "-w", str(out), "--", text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        audio, rate = read_wav(out)
    return _to_model_rate(audio, rate)
