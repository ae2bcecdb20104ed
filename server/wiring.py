"""Engine registry: settings → engine objects. A new engine is one module plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.llm.llama_cpp_llm import LlamaCppLLM, smollm2_model_path
from agent.llm.openai_compat import OpenAICompatLLM
from agent.llm.protocols import LLM
from agent.voice_input import VoiceConfig
from agent.voice_turns import TurnConfig
from server.settings import LLMSettings, TTSSettings, VoiceSettings
from speech.asr import FasterWhisperASR, whisper_tiny_en_path
from speech.tts import ProcessTTS, piper_worker_command
from speech.vad import SileroVAD
from speech.vad_segmenter import VadConfig


def _embedded(s: LLMSettings) -> LLM:
    return LlamaCppLLM(
        s.model_path or smollm2_model_path(),
        workers=s.workers,
        slots=s.slots,
        threads_per_worker=s.threads_per_worker,
        context_tokens=s.context_tokens,
        max_queue=s.max_queue,
    )


def _openai(s: LLMSettings) -> LLM:
    assert s.base_url is not None  # enforced by LLMSettings
    return OpenAICompatLLM(
        str(s.base_url).rstrip("/"),
        model=s.model,
        api_key=s.api_key,
        timeout_s=s.request_timeout_s,
        max_queue=s.max_queue,
    )


LLM_ENGINES: dict[str, Callable[[LLMSettings], LLM]] = {
    "embedded": _embedded,
    "openai": _openai,
}


def build_llm(settings: LLMSettings) -> LLM:
    return LLM_ENGINES[settings.engine](settings)


@dataclass(frozen=True, slots=True)
class VoiceEngines:
    """The speech models of this process (loaded once, shared by sessions) and their config."""

    vad: SileroVAD
    asr: FasterWhisperASR
    config: VoiceConfig

    def close(self) -> None:
        self.vad.close()
        self.asr.close()


async def build_voice(s: VoiceSettings) -> VoiceEngines | None:
    """Load the speech models, or return None when voice input is switched off."""
    if not s.enabled:
        return None
    asr = FasterWhisperASR(
        whisper_tiny_en_path(),
        workers=s.asr_workers,
        cpu_threads=s.asr_threads,
        beam_size=s.asr_beam_size,
    )
    await asr.start()
    config = VoiceConfig(
        vad=VadConfig(
            threshold=s.vad_threshold,
            release=min(s.vad_release, s.vad_threshold),
            min_speech_ms=s.vad_min_speech_ms,
            min_silence_ms=s.vad_min_silence_ms,
        ),
        turns=TurnConfig(
            silence_ms=s.silence_ms,
            min_silence_ms=s.min_silence_ms,
            max_silence_ms=s.max_silence_ms,
            echo_guard_ms=s.echo_guard_ms,
        ),
        partial_interval_ms=s.partial_interval_ms,
        hotwords=s.hotwords,
    )
    return VoiceEngines(SileroVAD(), asr, config)


async def build_tts(s: TTSSettings) -> ProcessTTS | None:
    """Start the TTS worker processes, or return None when voice output is switched off."""
    if not s.enabled:
        return None
    tts = ProcessTTS(piper_worker_command(), workers=s.workers)
    await tts.start()
    return tts
