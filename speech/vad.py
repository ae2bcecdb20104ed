"""Silero VAD (v6, the ONNX file bundled with faster-whisper): one model per process, state per
stream. Inference runs in the model's own single-thread executor, never on the event loop.

The model takes 512 new samples at 16 kHz (32 ms) plus the previous 64 as context, and carries
an LSTM state (h, c) from window to window; ``VadStream`` holds that state for one audio stream.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from speech.audio import Samples

CHUNK_SAMPLES = 512
CONTEXT_SAMPLES = 64


def silero_model_path() -> Path:
    """The Silero VAD ONNX file that faster-whisper ships in its package."""
    try:
        import faster_whisper
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "voice input needs 'faster-whisper' (pip install faster-whisper)"
        ) from exc
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise RuntimeError(f"Silero VAD model not found at {path}")
    return path


class SileroVAD:
    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(model_path or silero_model_path()),
            providers=["CPUExecutionProvider"],
            sess_options=options,
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")

    def new_stream(self) -> VadStream:
        return VadStream(self)

    def window_probability(
        self, window: Samples, h: Samples, c: Samples
    ) -> tuple[float, Samples, Samples]:
        """Speech probability of one 576-sample window (blocking)."""
        prob, h, c = self._session.run(None, {"input": window[np.newaxis, :], "h": h, "c": c})
        return float(np.asarray(prob).reshape(-1)[0]), h, c

    async def probabilities(self, stream: VadStream, samples: Samples) -> list[float]:
        """Feed samples (16 kHz) to ``stream``; one probability per completed 32 ms chunk."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, stream.process, samples
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class VadStream:
    """The VAD state of one audio stream. Not thread-safe: feed it from one place, in order."""

    def __init__(self, vad: SileroVAD) -> None:
        self._vad = vad
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, samples: Samples) -> list[float]:
        """Blocking; returns the probabilities of the chunks that ``samples`` completed."""
        buffered = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        probs = []
        full = len(buffered) // CHUNK_SAMPLES * CHUNK_SAMPLES
        for start in range(0, full, CHUNK_SAMPLES):
            chunk = buffered[start : start + CHUNK_SAMPLES]
            window = np.concatenate([self._context, chunk])
            prob, self._h, self._c = self._vad.window_probability(window, self._h, self._c)
            self._context = chunk[-CONTEXT_SAMPLES:]
            probs.append(prob)
        self._pending = buffered[full:]
        return probs
