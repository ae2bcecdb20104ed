"""Speech segments from VAD probabilities, with hysteresis (pure, sans-I/O).

Speech starts once probabilities at or above ``threshold`` add up to ``min_speech_ms`` (clicks,
coughs and breaths are shorter); it stops once probabilities below ``release`` have lasted
``min_silence_ms``. Values between the two keep the current state. Offsets are in samples of
the 16 kHz stream: a start is the first sample of its first voiced chunk, a stop is the first
sample of the silence that ended the speech.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    sample: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    sample: int


VadEvent = SpeechStarted | SpeechStopped


@dataclass(frozen=True, slots=True)
class VadConfig:
    threshold: float = 0.5
    release: float = 0.35
    min_speech_ms: int = 160
    min_silence_ms: int = 240
    sample_rate: int = 16000
    chunk_samples: int = 512

    def __post_init__(self) -> None:
        if not 0 < self.release <= self.threshold < 1:
            raise ValueError("need 0 < release <= threshold < 1")
        if min(self.min_speech_ms, self.min_silence_ms) < 0:
            raise ValueError("min_speech_ms and min_silence_ms cannot be negative")
        if min(self.sample_rate, self.chunk_samples) <= 0:
            raise ValueError("the sample rate and the chunk size must be positive")


class VadSegmenter:
    def __init__(self, config: VadConfig = VadConfig()) -> None:
        self._config = config
        self._min_speech = config.min_speech_ms * config.sample_rate // 1000
        self._min_silence = config.min_silence_ms * config.sample_rate // 1000
        self._position = 0
        self._speaking = False
        self._candidate: int | None = None
        self._voiced = 0
        self._silence_from: int | None = None

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def pending_stop(self) -> int | None:
        """While speaking: where the current pause began, if one is under way."""
        return self._silence_from if self._speaking else None

    @property
    def position(self) -> int:
        """Samples consumed so far."""
        return self._position

    def push(self, probability: float) -> VadEvent | None:
        """Consume the probability of the next chunk; return the event it causes, if any."""
        cfg = self._config
        start = self._position
        self._position += cfg.chunk_samples
        if not self._speaking:
            if probability >= cfg.threshold:
                if self._candidate is None:
                    self._candidate = start
                self._voiced += cfg.chunk_samples
                if self._voiced >= self._min_speech:
                    self._speaking = True
                    self._silence_from = None
                    return SpeechStarted(self._candidate)
            elif probability < cfg.release:
                self._candidate = None
                self._voiced = 0
            return None
        if probability >= cfg.threshold:
            self._silence_from = None
        elif probability < cfg.release and self._silence_from is None:
            self._silence_from = start
        if (
            self._silence_from is not None
            and self._position - self._silence_from >= self._min_silence
        ):
            stopped = SpeechStopped(self._silence_from)
            self._speaking = False
            self._candidate = None
            self._voiced = 0
            self._silence_from = None
            return stopped
        return None
