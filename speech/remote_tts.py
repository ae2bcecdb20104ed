"""Text to speech by the Piper HTTP service (``python -m tts_worker.http_service``), shared by
many server processes. The service is GPL-3.0 and runs apart; this client only speaks HTTP
(docs/adr/0002, docs/adr/0010).

``RemoteTTS`` has ``ProcessTTS``'s interface: ``synthesize(text, length_scale=...)`` returns a
``Synthesis`` with the audio and per-phoneme sample counts. A request cancelled by its caller
(barge-in) simply closes its connection: unlike a pipe, nothing can fall out of step.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from opentelemetry import propagate

from speech.tts import Synthesis, TTSError

CONTENT_TYPE = "application/vnd.avatar.tts-v1"


class RemoteTTS:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        start_timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._start_timeout_s = start_timeout_s
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
        )
        self._sample_rate = 0

    @property
    def ready(self) -> bool:
        return self._sample_rate > 0

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    async def start(self) -> None:
        """Learn the voice's sample rate, waiting up to ``start_timeout_s`` for the service to
        answer (it may start after us). Raises ``TTSError`` if it never does."""
        deadline = time.monotonic() + self._start_timeout_s
        while True:
            try:
                response = await self._client.get("/v1/voice")
                if response.status_code == 200:
                    self._sample_rate = int(response.json()["sample_rate"])
                    return
                problem = f"HTTP {response.status_code}"
            except (httpx.TransportError, ValueError, KeyError, TypeError) as exc:
                problem = repr(exc)
            if time.monotonic() >= deadline:
                raise TTSError(f"the TTS service at {self._base_url} did not answer: {problem}")
            await asyncio.sleep(0.5)

    async def synthesize(self, text: str, *, length_scale: float | None = None) -> Synthesis:
        """Speak ``text``; raises ``TTSError`` if the service fails or cannot be reached."""
        body: dict[str, str | float] = {"text": text}
        if length_scale:
            body["length_scale"] = length_scale
        headers: dict[str, str] = {}
        propagate.inject(headers)  # traceparent of tts.synthesize, when tracing
        url = f"{self._base_url}/v1/synthesize"
        try:
            response = await self._client.post("/v1/synthesize", json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TTSError(
                f"the TTS service at {url} did not answer in {self._timeout_s} s"
            ) from exc
        except httpx.TransportError as exc:
            raise TTSError(f"TTS service unreachable at {url}: {exc!r}") from exc
        if response.status_code != 200:
            raise TTSError(f"HTTP {response.status_code} from the TTS service: {_error(response)}")
        return _parse(response.content)

    async def aclose(self) -> None:
        self._sample_rate = 0
        await self._client.aclose()


def _parse(content: bytes) -> Synthesis:
    """One JSON header line, then exactly ``samples * 2`` bytes of PCM16."""
    line, _, pcm = content.partition(b"\n")
    try:
        header = json.loads(line)
        samples = int(header["samples"])
        alignments = tuple((str(p), int(n)) for p, n in header["alignments"])
        sample_rate = int(header["sample_rate"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TTSError(f"malformed answer from the TTS service: {exc!r}") from exc
    if len(pcm) != samples * 2:
        raise TTSError(f"the TTS service sent {len(pcm)} bytes of audio for {samples} samples")
    return Synthesis(pcm, sample_rate, alignments)


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])[:300]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]
