"""The Piper voice as an HTTP service, for TTS that scales apart from the servers that use it.

Part of the tts_worker program (GPL-3.0-or-later, see LICENSE here); the avatar server talks
to it over HTTP only (speech/remote_tts.py, docs/adr/0010). The service is stateless: any
replica answers any request, so it scales as a Deployment behind a Service.

Endpoints:

- ``GET /healthz``: ``{"status": "ok"}`` (the voice is loaded before the port opens).
- ``GET /v1/voice``: ``{"voice": "piper", "sample_rate": R}``.
- ``POST /v1/synthesize`` with JSON ``{"text": str, "length_scale": float (optional)}``:
  ``200`` with content type ``application/vnd.avatar.tts-v1``: one JSON line
  ``{"samples": N, "sample_rate": R, "alignments": [[phoneme, samples], ...]}`` then exactly
  ``N * 2`` bytes of signed 16-bit little-endian mono audio (the pipe protocol's answer, see
  piper_worker.py). ``400`` (bad request), ``413`` (body too large) or ``500`` (synthesis
  failed) with JSON ``{"error": message}``.
- ``GET /metrics``: Prometheus text: ``avatar_tts_requests_total{outcome}``,
  ``avatar_tts_synthesis_seconds`` (histogram), ``avatar_tts_audio_seconds_total``,
  ``avatar_tts_waiting`` (requests queued for the voice).

One synthesis runs at a time per process (Piper's eSpeak NG phonemizer is not thread-safe);
other requests wait their turn. Run more processes (replicas) for more throughput.

Run: python -m tts_worker.http_service [--host 0.0.0.0] [--port 8000] [voice options]
(``--port 0`` picks a free port). The first line on stdout is JSON
``{"ready": true, "port": P, "sample_rate": R}``; SIGTERM stops it after the requests in flight.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from tts_worker.piper_worker import add_voice_arguments, load_voice, synthesize

CONTENT_TYPE = "application/vnd.avatar.tts-v1"
MAX_BODY_BYTES = 65536
SHUTDOWN_GRACE_S = 10.0


class Service:
    """The voice, its lock and its metrics (shared by the request threads)."""

    def __init__(
        self, voice: Any, noise_scale: float | None = None, noise_w_scale: float | None = None
    ) -> None:
        self.voice = voice
        self.sample_rate = int(voice.config.sample_rate)
        self._noise = {"noise_scale": noise_scale, "noise_w_scale": noise_w_scale}
        self._lock = threading.Lock()
        self._active = 0
        self._active_lock = threading.Lock()
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "avatar_tts_requests", "Synthesis requests by outcome.", ["outcome"], registry=r
        )
        self.seconds = Histogram(
            "avatar_tts_synthesis_seconds",
            "Time to synthesise one request (excluding the wait for the voice).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5),
            registry=r,
        )
        self.audio = Counter(
            "avatar_tts_audio_seconds", "Seconds of audio synthesised.", registry=r
        )
        self.waiting = Gauge(
            "avatar_tts_waiting", "Requests waiting for the voice (one runs at a time).", registry=r
        )

    @property
    def active(self) -> int:
        """Requests waiting for the voice or being synthesised."""
        return self._active

    def synthesize(self, text: str, length_scale: float | None) -> tuple[bytes, list[list[Any]]]:
        with self._active_lock:
            self._active += 1
        try:
            with self.waiting.track_inprogress():
                self._lock.acquire()
            try:
                return self._synthesize(text, length_scale)
            finally:
                self._lock.release()
        finally:
            with self._active_lock:
                self._active -= 1

    def _synthesize(self, text: str, length_scale: float | None) -> tuple[bytes, list[list[Any]]]:
        started = time.perf_counter()
        pcm, alignments = synthesize(self.voice, text, length_scale, **self._noise)
        self.seconds.observe(time.perf_counter() - started)
        self.audio.inc(len(pcm) / 2 / self.sample_rate)
        return pcm, alignments


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._json(HTTPStatus.OK, {"status": "ok"})
            elif self.path == "/v1/voice":
                self._json(HTTPStatus.OK, {"voice": "piper", "sample_rate": service.sample_rate})
            elif self.path == "/metrics":
                self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(service.registry))
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/v1/synthesize":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                service.requests.labels(outcome="too_large").inc()
                self.close_connection = True  # the body is not read
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
                return
            try:
                request = json.loads(self.rfile.read(length))
                text = request["text"]
                length_scale = request.get("length_scale")
                if not isinstance(text, str):
                    raise TypeError("text must be a string")
                if length_scale is not None:
                    length_scale = float(length_scale)
            except (ValueError, KeyError, TypeError) as exc:
                service.requests.labels(outcome="bad_request").inc()
                self._json(HTTPStatus.BAD_REQUEST, {"error": f"bad request: {exc!r}"[:300]})
                return
            try:
                pcm, alignments = service.synthesize(text, length_scale)
            except Exception as exc:  # one bad request must not end the service
                service.requests.labels(outcome="failed").inc()
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)[:300]})
                return
            service.requests.labels(outcome="ok").inc()
            header = {
                "samples": len(pcm) // 2,
                "sample_rate": service.sample_rate,
                "alignments": alignments,
            }
            self._send(HTTPStatus.OK, CONTENT_TYPE, json.dumps(header).encode() + b"\n" + pcm)

        def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: one line per request would drown the logs; see /metrics."""

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    add_voice_arguments(parser)
    args = parser.parse_args()
    voice = load_voice(args.model, args.config)
    service = Service(voice, args.noise_scale, args.noise_w_scale)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(service))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    ready = {"ready": True, "port": server.server_address[1], "sample_rate": service.sample_rate}
    print(json.dumps(ready), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    while service.active and time.monotonic() < deadline:  # let requests in flight finish
        time.sleep(0.02)
    time.sleep(0.05)  # and their answers be written
    sys.exit(0)


if __name__ == "__main__":
    main()
