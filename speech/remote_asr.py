"""Speech recognition by an OpenAI-compatible transcription service: vLLM (Whisper on a GPU,
``vllm serve openai/whisper-large-v3``), speaches / faster-whisper-server, or OpenAI itself.

Each transcription is one ``POST {base_url}/audio/transcriptions`` with the audio as a 16 kHz
mono 16-bit WAV file (multipart form, ``response_format`` ``json`` or ``verbose_json``); the
answer's ``text`` is the transcript. Partials and finals are separate requests, as they are
with the in-process engine, and the service holds no state between them, so any replica can
answer any request.

At most ``max_in_flight`` requests run at once from this process; ``queue_depth`` counts those
waiting for a turn, which voice input reads to skip partials while finals wait. Failures raise
``ASRError`` subclasses with a message that says what to check.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave

import httpx
from opentelemetry import propagate

from speech.asr import Transcript
from speech.audio import MODEL_RATE, Samples, float_to_pcm16


class ASRError(RuntimeError):
    """A transcription failed. ``retryable``: whether the same request may succeed later."""

    retryable = True


class ASRUnavailable(ASRError):
    """The service cannot be reached (refused, DNS, connection dropped)."""


class ASRTimeout(ASRError):
    """The service did not answer within the timeout."""


class ASRRejected(ASRError):
    """The service refused the request (4xx other than 429): the configuration is wrong."""

    retryable = False


def wav_bytes(audio: Samples, rate: int = MODEL_RATE) -> bytes:
    """Float audio in [-1, 1] as a mono 16-bit PCM WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(float_to_pcm16(audio))
    return buffer.getvalue()


class OpenAITranscriptionASR:
    """``speech.asr.FasterWhisperASR``'s interface, served by a remote transcription API."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        language: str | None = "en",
        response_format: str = "json",
        hotwords_in_prompt: bool = False,
        timeout_s: float = 10.0,
        max_in_flight: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._language = language
        self._response_format = response_format
        self._hotwords_in_prompt = hotwords_in_prompt
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._waiting = 0
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=max_in_flight),
            transport=transport,
        )
        self._ready = False

    @property
    def name(self) -> str:
        return f"openai:{self._model}@{self._base_url}"

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def queue_depth(self) -> int:
        """Transcriptions waiting for one of the ``max_in_flight`` request slots."""
        return self._waiting

    async def start(self) -> None:
        """Mark ready. The service may start later than us; requests fail until it answers."""
        self._ready = True

    async def transcribe(
        self, audio: Samples, *, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        """Transcribe 16 kHz mono float audio. Raises ``ASRError`` (a subclass says why)."""
        if not self._ready:
            raise ASRUnavailable("the ASR client is not started")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._request(audio, prompt, hotwords)
        finally:
            self._slots.release()

    async def _request(
        self, audio: Samples, prompt: str | None, hotwords: str | None
    ) -> Transcript:
        form = {"model": self._model, "response_format": self._response_format, "temperature": "0"}
        if self._language:
            form["language"] = self._language
        if hotwords and self._hotwords_in_prompt:
            prompt = f"{hotwords} {prompt}" if prompt else hotwords
        elif hotwords:
            form["hotwords"] = hotwords  # speaches / faster-whisper-server; others ignore it
        if prompt:
            form["prompt"] = prompt
        headers: dict[str, str] = {}
        propagate.inject(headers)  # traceparent of the current span, when tracing
        started = time.perf_counter()
        url = f"{self._base_url}/audio/transcriptions"
        try:
            response = await self._client.post(
                "/audio/transcriptions",
                data=form,
                files={"file": ("audio.wav", wav_bytes(audio), "audio/wav")},
                headers=headers,
            )
        except httpx.TimeoutException as exc:
            raise ASRTimeout(
                f"the transcription service at {url} did not answer within {self._timeout_s} s"
            ) from exc
        except httpx.TransportError as exc:
            raise ASRUnavailable(f"transcription service unreachable at {url}: {exc!r}") from exc
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            detail = response.text[:300]
            status = response.status_code
            error = ASRRejected if 400 <= status < 500 and status != 429 else ASRError
            raise error(f"HTTP {status} from the transcription service at {url}: {detail}")
        return Transcript(_text_of(response), len(audio) / MODEL_RATE, elapsed)

    async def aclose(self) -> None:
        self._ready = False
        await self._client.aclose()


def _text_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        # The body is not quoted: it may hold what the user said.
        raise ASRError("malformed transcription response: no 'text' string in a JSON object")
    text: str = body["text"]
    return text.strip()
