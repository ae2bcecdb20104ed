"""PCM helpers and a streaming resampler to the 16 kHz the speech models expect."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

MODEL_RATE = 16000
Samples = npt.NDArray[np.float32]


def pcm16_to_float(pcm: bytes) -> Samples:
    """Little-endian signed 16-bit samples to float32 in [-1, 1)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: Samples) -> bytes:
    clipped = np.clip(samples, -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()


class StreamResampler:
    """Resamples one audio stream chunk by chunk, keeping filter state between chunks."""

    def __init__(self, in_rate: int, out_rate: int = MODEL_RATE) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, samples: Samples) -> Samples:
        if self._stream is None:
            return samples
        out: Samples = self._stream.resample_chunk(samples)
        return out
