"""Engine registry: settings → engine objects. A new engine is one module plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agent.llm.llama_cpp_llm import LlamaCppLLM, smollm2_model_path
from agent.llm.openai_compat import OpenAICompatLLM
from agent.llm.protocols import LLM
from agent.speech_out import TTS
from agent.voice_input import ASR, VoiceConfig
from agent.voice_turns import TurnConfig
from server.settings import LLMSettings, TTSSettings, VoiceSettings
from speech.asr import FasterWhisperASR, whisper_tiny_en_path
from speech.remote_asr import OpenAITranscriptionASR
from speech.remote_tts import RemoteTTS
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


class SpeechRecognizer(ASR, Protocol):
    """An ASR engine as the composition root holds it: started once, closed at shutdown."""

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


def _local_asr(s: VoiceSettings) -> SpeechRecognizer:
    return FasterWhisperASR(
        whisper_tiny_en_path(),
        workers=s.asr_workers,
        cpu_threads=s.asr_threads,
        beam_size=s.asr_beam_size,
        device=s.asr_device,
        compute_type=s.asr_compute_type,
    )


def _openai_asr(s: VoiceSettings) -> SpeechRecognizer:
    assert s.asr_base_url is not None  # enforced by VoiceSettings
    return OpenAITranscriptionASR(
        str(s.asr_base_url).rstrip("/"),
        model=s.asr_model,
        api_key=s.asr_api_key.get_secret_value() if s.asr_api_key else None,
        response_format=s.asr_response_format,
        hotwords_in_prompt=s.asr_hotwords_in_prompt,
        timeout_s=s.asr_timeout_s,
        max_in_flight=s.asr_max_in_flight,
    )


ASR_ENGINES: dict[str, Callable[[VoiceSettings], SpeechRecognizer]] = {
    "local": _local_asr,
    "openai": _openai_asr,
}


@dataclass(frozen=True, slots=True)
class VoiceEngines:
    """The speech models of this process (loaded once, shared by sessions) and their config."""

    vad: SileroVAD
    asr: SpeechRecognizer
    config: VoiceConfig

    async def aclose(self) -> None:
        self.vad.close()
        await self.asr.aclose()


async def build_voice(s: VoiceSettings) -> VoiceEngines | None:
    """Load the speech models, or return None when voice input is switched off."""
    if not s.enabled:
        return None
    asr = ASR_ENGINES[s.asr_engine](s)
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


class SpeechSynthesizer(TTS, Protocol):
    """A TTS engine as the composition root holds it: started once, closed at shutdown."""

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


def _local_tts(s: TTSSettings) -> SpeechSynthesizer:
    return ProcessTTS(piper_worker_command(), workers=s.workers)


def _remote_tts(s: TTSSettings) -> SpeechSynthesizer:
    assert s.base_url is not None  # enforced by TTSSettings
    return RemoteTTS(
        str(s.base_url).rstrip("/"),
        timeout_s=s.request_timeout_s,
        start_timeout_s=s.start_timeout_s,
    )


TTS_ENGINES: dict[str, Callable[[TTSSettings], SpeechSynthesizer]] = {
    "local": _local_tts,
    "remote": _remote_tts,
}


async def build_tts(s: TTSSettings) -> SpeechSynthesizer | None:
    """Start the TTS engine, or return None when voice output is switched off."""
    if not s.enabled:
        return None
    tts = TTS_ENGINES[s.engine](s)
    await tts.start()
    return tts
