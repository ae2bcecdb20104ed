"""speech/remote_asr.py against a real OpenAI-compatible transcription server: Whisper tiny.en
behind FastAPI on a real port (tests/speech/remote_services.py), fed real speech.

The server decodes exactly as the in-process engine does, so the remote transcript must equal
the local one word for word; what the client adds is the WAV upload and the HTTP round trip.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
import pytest_asyncio

from speech.asr import FasterWhisperASR, whisper_tiny_en_path
from speech.audio import float_to_pcm16, pcm16_to_float
from speech.remote_asr import (
    ASRError,
    ASRRejected,
    ASRTimeout,
    ASRUnavailable,
    OpenAITranscriptionASR,
    wav_bytes,
)
from tests import speech_corpus as corpus
from tests.speech.remote_services import MODEL, WhisperService, read_wav_bytes, whisper_service

pytestmark = [pytest.mark.speech, pytest.mark.asyncio(loop_scope="module")]

PAD_S = 0.3
SENTENCES = [u.text for u in corpus.UTTERANCES[:4]]


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def service() -> Iterator[WhisperService]:
    with whisper_service() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(service: WhisperService) -> None:
    service.reset()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def local() -> AsyncIterator[FasterWhisperASR]:
    model = FasterWhisperASR(whisper_tiny_en_path(), workers=1, cpu_threads=2)
    await model.start()
    yield model
    model.close()


@pytest_asyncio.fixture(loop_scope="module")
async def remote(service: WhisperService) -> AsyncIterator[OpenAITranscriptionASR]:
    engine = OpenAITranscriptionASR(service.base_url, model=MODEL, timeout_s=10)
    await engine.start()
    yield engine
    await engine.aclose()


def microphone(audio: np.ndarray) -> np.ndarray:
    """``audio`` as it reaches the server: 16-bit samples (so both engines get the same)."""
    return pcm16_to_float(float_to_pcm16(audio))


async def test_wav_encoding_is_lossless_for_audio_from_16_bit_samples() -> None:
    audio = microphone(corpus.piper_speech("Hello there."))
    decoded = read_wav_bytes(wav_bytes(audio))
    assert np.array_equal(decoded, audio)


@pytest.mark.parametrize("sentence", SENTENCES)
async def test_real_speech_transcribes_remotely_as_it_does_in_process(
    remote: OpenAITranscriptionASR,
    local: FasterWhisperASR,
    say: corpus.Speaker,
    sentence: str,
) -> None:
    audio = microphone(corpus.with_padding(say("piper", sentence), PAD_S, PAD_S))

    over_http = await remote.transcribe(audio)
    in_process = await local.transcribe(audio)

    assert over_http.text == in_process.text
    assert normalise(over_http.text) == normalise(sentence)
    assert over_http.audio_s == pytest.approx(len(audio) / 16000)
    assert over_http.compute_s > 0


async def test_hotwords_reach_the_service_as_a_field_or_in_the_prompt(
    service: WhisperService, say: corpus.Speaker
) -> None:
    sentence = "I need help setting up my Zorblax router."
    audio = corpus.with_padding(say("piper", sentence), PAD_S, PAD_S)
    as_field = OpenAITranscriptionASR(service.base_url, model=MODEL)
    as_prompt = OpenAITranscriptionASR(service.base_url, model=MODEL, hotwords_in_prompt=True)
    for engine in (as_field, as_prompt):
        await engine.start()

    with_field = await as_field.transcribe(audio, hotwords="Zorblax")
    with_prompt = await as_prompt.transcribe(audio, hotwords="Zorblax", prompt="Support call.")

    assert normalise(with_field.text) == normalise(sentence)
    assert normalise(with_prompt.text) == normalise(sentence)
    first, second = (r["fields"] for r in service.requests)
    assert first["hotwords"] == "Zorblax" and "prompt" not in first
    assert second["prompt"] == "Zorblax Support call." and "hotwords" not in second
    assert first["model"] == MODEL and first["language"] == "en"
    assert first["response_format"] == "json"
    for engine in (as_field, as_prompt):
        await engine.aclose()


async def test_verbose_json_answers_give_the_same_text(
    service: WhisperService, say: corpus.Speaker
) -> None:
    engine = OpenAITranscriptionASR(service.base_url, model=MODEL, response_format="verbose_json")
    await engine.start()
    audio = corpus.with_padding(say("piper", SENTENCES[0]), PAD_S, PAD_S)

    transcript = await engine.transcribe(audio)

    assert normalise(transcript.text) == normalise(SENTENCES[0])
    assert service.requests[-1]["fields"]["response_format"] == "verbose_json"
    await engine.aclose()


async def test_an_api_key_is_sent_as_a_bearer_token(service: WhisperService) -> None:
    engine = OpenAITranscriptionASR(service.base_url, model=MODEL, api_key="sk-test")
    await engine.start()
    await engine.transcribe(corpus.silence(0.5))
    assert service.requests[-1]["headers"]["authorization"] == "Bearer sk-test"
    await engine.aclose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_unreachable_service_is_a_retryable_unavailable_error() -> None:
    engine = OpenAITranscriptionASR(f"http://127.0.0.1:{_closed_port()}/v1", model=MODEL)
    await engine.start()
    with pytest.raises(ASRUnavailable, match=r"unreachable at http://127\.0\.0\.1:") as caught:
        await engine.transcribe(corpus.silence(0.5))
    assert caught.value.retryable
    await engine.aclose()


async def test_a_slow_service_times_out_with_a_clear_error(service: WhisperService) -> None:
    service.delay_s = 2.0
    engine = OpenAITranscriptionASR(service.base_url, model=MODEL, timeout_s=0.3)
    await engine.start()
    with pytest.raises(ASRTimeout, match=r"did not answer within 0\.3 s"):
        await engine.transcribe(corpus.silence(0.5))
    await engine.aclose()


async def test_an_unknown_model_is_rejected_as_not_retryable(service: WhisperService) -> None:
    engine = OpenAITranscriptionASR(service.base_url, model="whisper-huge")
    await engine.start()
    with pytest.raises(ASRRejected, match=r"HTTP 404 .*whisper-huge") as caught:
        await engine.transcribe(corpus.silence(0.5))
    assert not caught.value.retryable
    await engine.aclose()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_overload_and_server_errors_are_retryable(
    service: WhisperService, remote: OpenAITranscriptionASR, status: int
) -> None:
    service.status = status
    with pytest.raises(ASRError, match=f"HTTP {status} from the transcription service") as caught:
        await remote.transcribe(corpus.silence(0.5))
    assert caught.value.retryable and not isinstance(caught.value, ASRRejected)


async def test_a_malformed_answer_is_an_error_that_does_not_quote_it(
    service: WhisperService, remote: OpenAITranscriptionASR
) -> None:
    service.malformed = True
    with pytest.raises(ASRError, match="malformed transcription response") as caught:
        await remote.transcribe(corpus.silence(0.5))
    assert "proxy error" not in str(caught.value)


async def test_transcribing_before_start_fails() -> None:
    engine = OpenAITranscriptionASR("http://127.0.0.1:9/v1", model=MODEL)
    with pytest.raises(ASRUnavailable, match="not started"):
        await engine.transcribe(corpus.silence(0.5))
    await engine.aclose()


async def test_requests_beyond_max_in_flight_wait_and_count_in_the_queue_depth(
    service: WhisperService,
) -> None:
    service.delay_s = 0.3
    engine = OpenAITranscriptionASR(service.base_url, model=MODEL, max_in_flight=1)
    await engine.start()
    first = asyncio.create_task(engine.transcribe(corpus.silence(0.5)))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(engine.transcribe(corpus.silence(0.5)))
    await asyncio.sleep(0.05)

    assert engine.queue_depth == 1, "the second waits for the first's slot"
    await asyncio.gather(first, second)
    assert engine.queue_depth == 0
    await engine.aclose()
