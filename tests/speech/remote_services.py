"""Real remote speech services for tests of the remote engines.

- ``WhisperService``: Whisper tiny.en (faster-whisper, decoded exactly as the in-process engine
  decodes) behind a tiny OpenAI-compatible FastAPI app (``POST /v1/audio/transcriptions``), on
  a real port in a background thread, as speaches or vLLM would serve it. Faults can be
  switched on per test (``delay_s``, ``status``, ``malformed``); requests are recorded.
- ``start_tts_service``: ``python -m tts_worker.http_service`` in a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from speech.asr import FasterWhisperASR, whisper_tiny_en_path

ROOT = Path(__file__).resolve().parents[2]
MODEL = "whisper-tiny.en"


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """Form fields of a multipart/form-data body (the stdlib parser: no extra package)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def read_wav_bytes(data: bytes) -> np.ndarray:
    import io

    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert wav.getframerate() == 16000
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


@dataclass
class WhisperService:
    """An OpenAI-compatible transcription server on 127.0.0.1 (``base_url`` ends in /v1)."""

    port: int = 0
    delay_s: float = 0.0
    status: int | None = None
    """Answer every transcription with this HTTP status (an OpenAI-style error body)."""
    malformed: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self.delay_s, self.status, self.malformed = 0.0, None, False
        self.requests.clear()

    def app(self) -> FastAPI:
        asr = FasterWhisperASR(whisper_tiny_en_path(), workers=1, cpu_threads=2)

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await asr.start()
            yield
            asr.close()

        app = FastAPI(lifespan=lifespan)

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/v1/audio/transcriptions")
        async def transcriptions(request: Request) -> Any:
            form = parse_multipart(request.headers["content-type"], await request.body())
            fields = {k: v.decode() for k, v in form.items() if k != "file"}
            self.requests.append({"fields": fields, "headers": dict(request.headers)})
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.status is not None:
                return JSONResponse(
                    {"error": {"message": "injected failure", "code": self.status}},
                    status_code=self.status,
                )
            if fields.get("model") != MODEL:
                return JSONResponse(
                    {"error": {"message": f"The model `{fields.get('model')}` does not exist."}},
                    status_code=404,
                )
            if self.malformed:
                return PlainTextResponse("<html>proxy error</html>")
            audio = read_wav_bytes(form["file"])
            transcript = await asr.transcribe(
                audio, prompt=fields.get("prompt"), hotwords=fields.get("hotwords")
            )
            body: dict[str, Any] = {"text": transcript.text}
            if fields.get("response_format") == "verbose_json":
                body |= {"language": "en", "duration": transcript.audio_s, "segments": []}
            return body

        return app

    def start(self) -> WhisperService:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="whisper-service")
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test Whisper service did not start")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)


@contextlib.contextmanager
def whisper_service() -> Iterator[WhisperService]:
    service = WhisperService().start()
    try:
        yield service
    finally:
        service.stop()


@dataclass
class TTSService:
    process: subprocess.Popen[bytes]
    port: int
    sample_rate: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


DETERMINISTIC = ("--noise-scale", "0", "--noise-w-scale", "0")
"""Voice options that make Piper's output the same on every run (and in every engine)."""


def start_tts_service(*voice_args: str) -> TTSService:
    """The Piper HTTP service on a free port; returns once it has loaded the voice."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tts_worker.http_service", "--port", "0", *voice_args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the voice loads in about a second
    if not line:
        process.wait(5)
        raise RuntimeError(f"the TTS service exited with {process.returncode}")
    ready = json.loads(line)
    return TTSService(process, int(ready["port"]), int(ready["sample_rate"]))
