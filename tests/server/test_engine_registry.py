"""Settings → speech engines (server/wiring.py): the registries, and the settings they need."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.settings import Settings, TTSSettings, VoiceSettings
from server.wiring import ASR_ENGINES, TTS_ENGINES
from speech.asr import FasterWhisperASR
from speech.remote_asr import OpenAITranscriptionASR
from speech.remote_tts import RemoteTTS
from speech.tts import ProcessTTS


def test_each_engine_setting_has_a_registry_entry() -> None:
    assert set(ASR_ENGINES) == {"local", "openai"}
    assert set(TTS_ENGINES) == {"local", "remote"}
    assert Settings().voice.asr_engine == "local" and Settings().tts.engine == "local"


async def test_the_openai_asr_engine_is_built_from_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVATAR_VOICE__ASR_ENGINE", "openai")
    monkeypatch.setenv("AVATAR_VOICE__ASR_BASE_URL", "http://asr.internal:8000/v1/")
    monkeypatch.setenv("AVATAR_VOICE__ASR_MODEL", "openai/whisper-large-v3")
    monkeypatch.setenv("AVATAR_VOICE__ASR_API_KEY", "sk-asr")
    monkeypatch.setenv("AVATAR_VOICE__ASR_MAX_IN_FLIGHT", "16")
    voice = Settings().voice

    engine = ASR_ENGINES[voice.asr_engine](voice)

    assert isinstance(engine, OpenAITranscriptionASR)
    assert engine.name == "openai:openai/whisper-large-v3@http://asr.internal:8000/v1"
    assert not engine.ready, "ready once started"
    assert "sk-asr" not in repr(voice), "the key is a secret in the settings"
    await engine.aclose()


def test_the_local_asr_engine_is_faster_whisper() -> None:
    engine = ASR_ENGINES["local"](VoiceSettings())
    assert isinstance(engine, FasterWhisperASR)
    engine.close()


async def test_the_remote_tts_engine_is_built_from_its_settings() -> None:
    settings = TTSSettings.model_validate(
        {"engine": "remote", "base_url": "http://tts:8000", "request_timeout_s": 5}
    )
    engine = TTS_ENGINES[settings.engine](settings)
    assert isinstance(engine, RemoteTTS)
    assert not engine.ready and engine.sample_rate == 0, "the rate comes from the service"
    await engine.aclose()
    assert isinstance(TTS_ENGINES["local"](TTSSettings()), ProcessTTS)


@pytest.mark.parametrize(
    ("group", "values", "message"),
    [
        (VoiceSettings, {"asr_engine": "openai"}, "voice.asr_base_url is required"),
        (TTSSettings, {"engine": "remote"}, "tts.base_url is required"),
        (VoiceSettings, {"asr_engine": "whisper.cpp"}, "asr_engine"),
    ],
)
def test_a_remote_engine_without_its_url_is_refused_at_start_up(
    group: type[VoiceSettings] | type[TTSSettings], values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        group.model_validate(values)
