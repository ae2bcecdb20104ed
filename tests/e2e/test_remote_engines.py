"""A server process with every engine remote, and its traces exported over OTLP.

- ASR: Whisper tiny.en behind an OpenAI-compatible transcription API (in this process);
- TTS: the Piper HTTP service (``python -m tts_worker.http_service``, a subprocess);
- LLM: an OpenAI-compatible chat server that always says the same thing (a stub);
- traces: OTLP/HTTP to a stub collector, decoded with the OTLP protobuf definitions.

A spoken question streamed in real time must come back transcribed, answered and spoken, with
one trace holding the turn, its final transcription, the model call (whose request carried
the traceparent) and each synthesis, and no word of the conversation in any exported byte.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from server.ws_client import RealtimeClient
from speech.audio import float_to_pcm16
from tests import speech_corpus as corpus
from tests.e2e.conftest import ServerProcess, StartServer
from tests.server.http_stubs import Answer, Recorded, StubServer, stub_server
from tests.speech.remote_services import (
    MODEL,
    TTSService,
    WhisperService,
    start_tts_service,
    whisper_service,
)

pytestmark = [pytest.mark.speech]

QUESTION = "What time does the store open on Sunday?"
ANSWER = "We open at nine. Have a lovely weekend!"


def _chat(_: Recorded) -> Answer:
    chunks = [{"choices": [{"delta": {"content": w}}]} for w in ANSWER.split(" ")]
    for chunk in chunks[1:]:
        chunk["choices"][0]["delta"]["content"] = " " + chunk["choices"][0]["delta"]["content"]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Answer(content_type="text/event-stream", body=body.encode())


@pytest.fixture(scope="module")
def asr() -> Iterator[WhisperService]:
    with whisper_service() as running:
        yield running


@pytest.fixture(scope="module")
def tts() -> Iterator[TTSService]:
    running = start_tts_service()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def llm() -> Iterator[StubServer]:
    with stub_server(_chat) as running:
        yield running


@pytest.fixture(scope="module")
def collector() -> Iterator[StubServer]:
    with stub_server(lambda _: Answer(content_type="application/x-protobuf", body=b"")) as stub:
        yield stub


@pytest.fixture(scope="module")
def server(
    start_server: StartServer,
    asr: WhisperService,
    tts: TTSService,
    llm: StubServer,
    collector: StubServer,
) -> ServerProcess:
    return start_server(
        "remote",
        AVATAR_LLM__ENGINE="openai",
        AVATAR_LLM__BASE_URL=f"{llm.url}/v1",
        AVATAR_VOICE__ASR_ENGINE="openai",
        AVATAR_VOICE__ASR_BASE_URL=asr.base_url,
        AVATAR_VOICE__ASR_MODEL=MODEL,
        AVATAR_TTS__ENGINE="remote",
        AVATAR_TTS__BASE_URL=tts.base_url,
        AVATAR_TRACING__EXPORTER="otlp",
        AVATAR_TRACING__OTLP_ENDPOINT=f"{collector.url}/v1/traces",
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within 0.1 s instead of 5 s
    )


def _spans(collector: StubServer) -> list[Span]:
    spans: list[Span] = []
    for request in list(collector.requests):
        export = ExportTraceServiceRequest.FromString(request.body)
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                spans += scope.spans
    return spans


def _attributes(span: Span) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        values[a.key] = getattr(a.value, kind) if kind else None
    return values


async def test_a_spoken_turn_runs_on_remote_engines_and_is_traced_end_to_end(
    server: ServerProcess, asr: WhisperService, llm: StubServer, collector: StubServer
) -> None:
    async with httpx.AsyncClient() as http:
        ready = (await http.get(f"{server.http}/readyz")).json()
    assert ready["checks"]["asr"] and ready["checks"]["tts"]
    client = RealtimeClient(server.url, audio_in=True, audio_out=True)
    started = await client.connect()
    assert started["config"]["audio_out"]["sample_rate"] == 22050, "learnt from the service"
    audio = corpus.with_padding(corpus.piper_speech(QUESTION), 0.5, 1.5)
    sender = asyncio.create_task(
        client.send_audio(float_to_pcm16(audio.astype(np.float32)), frame_ms=20)
    )
    events = []
    while not events or events[-1]["type"] != "response.done":
        events.append(await client.recv(timeout=60))
    await sender
    await client.close()

    completed = next(e for e in events if e["type"] == "input_audio.transcript.completed")
    done = events[-1]
    segments = [e for e in events if e["type"] == "response.audio.segment"]
    assert completed["text"] == QUESTION
    assert done["status"] == "completed" and done["text"] == ANSWER
    assert len(segments) == 2, "two sentences, two spoken segments"
    assert sum(f.samples for _, f in client.audio) == sum(s["samples"] for s in segments)
    assert len(asr.requests) >= 2, "partials and the final went to the transcription service"

    deadline = time.monotonic() + 10
    turn: Span | None = None
    while time.monotonic() < deadline:
        turns = [s for s in _spans(collector) if s.name == "turn"]
        if turns and any(_attributes(t).get("turn.status") for t in turns):
            turn = turns[0]
            break
        await asyncio.sleep(0.1)
    assert turn is not None, "the turn's trace was exported"
    spans = _spans(collector)
    tree = [s for s in spans if s.trace_id == turn.trace_id and s.span_id != turn.span_id]
    assert sorted(s.name for s in tree) == ["asr.final", "llm.generate"] + ["tts.synthesize"] * 2
    assert all(s.parent_span_id == turn.span_id for s in tree)
    attributes = _attributes(turn)
    assert attributes["session.id"] == started["session_id"]
    assert attributes["response.id"] == done["response_id"]
    assert attributes["turn.input"] == "voice"
    assert attributes["turn.status"] == "completed"
    assert [e.name for e in turn.events] == ["first_audio_sent"]
    generate = next(s for s in tree if s.name == "llm.generate")
    (chat,) = llm.requests
    trace_id, span_id = chat.headers["traceparent"].split("-")[1:3]
    assert (trace_id, span_id) == (turn.trace_id.hex(), generate.span_id.hex())
    (connection,) = [s for s in spans if s.name == "WS /v1/realtime"]
    assert [link.span_id for link in turn.links] == [connection.span_id], "turn → its socket"
    assert not [s for s in spans if "readyz" in s.name], "probes are not traced"
    exported = b"".join(r.body for r in collector.requests).lower()
    for word in re.findall(r"[a-z]{4,}", f"{QUESTION} {ANSWER}".lower()):
        pattern = rb"(?<![a-z])" + word.encode() + rb"(?![a-z])"
        assert not re.search(pattern, exported), f"{word!r} was exported in a span"


async def test_a_turn_the_speech_service_fails_on_is_reported_not_lost(
    start_server: StartServer, llm: StubServer
) -> None:
    """The transcription service answers 500: the user hears about it (transcript.failed,
    asr_failed), nothing is committed or answered, and the session goes on."""
    with stub_server(lambda _: Answer(status=500, body=b'{"error": "down"}')) as broken:
        server = start_server(
            "asr-down",
            AVATAR_LLM__ENGINE="openai",
            AVATAR_LLM__BASE_URL=f"{llm.url}/v1",
            AVATAR_VOICE__ASR_ENGINE="openai",
            AVATAR_VOICE__ASR_BASE_URL=f"{broken.url}/v1",
            AVATAR_VOICE__ASR_MODEL=MODEL,
            AVATAR_TTS__ENABLED="false",
        )
        client = RealtimeClient(server.url, audio_in=True)
        await client.connect()
        audio = corpus.with_padding(corpus.piper_speech(QUESTION), 0.5, 1.5)
        await client.send_audio(float_to_pcm16(audio.astype(np.float32)), frame_ms=20)
        failed = await client.wait_for("input_audio.transcript.failed", timeout=30)
        assert failed["code"] == "asr_failed" and failed["message"]
        assert failed["audio_end_ms"] > failed["audio_start_ms"] > 0
        assert broken.requests, "the final transcription went to the service"
        reply = await client.ask("Are you there?")
        await client.close()
    assert reply.status == "completed" and reply.text == ANSWER
    types = [e["type"] for e in client.events]
    assert types.count("input.committed") == 1, "only the typed turn was committed"
    assert "error" not in types
