"""Traces of a turn (server/tracing.py and the spans in agent/ and server/session_runtime.py).

The OpenTelemetry SDK with an in-memory exporter records what the real runtime produces for a
typed turn (scripted model, scripted TTS, a fake knowledge base), a cancelled one, a failed
one and a spoken one (real VAD on real speech), and checks the span tree, the links between
parent and child, the attributes, and that no user or model text is in any span. Then: the
W3C traceparent sent to an OpenAI-compatible server, and the exporter settings.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from redis.asyncio import Redis

from agent.llm.openai_compat import OpenAICompatLLM
from agent.llm.protocols import ChatMessage, GenerationParams, LLMUnavailable
from agent.voice_input import VoiceConfig, VoiceInput
from server.protocol import messages as wire
from server.session_manager import SessionManager
from server.settings import TracingSettings
from server.tracing import build_tracer_provider, configure_tracing
from speech.asr import Transcript
from speech.audio import Samples
from speech.tts import Synthesis, TTSError
from tests.agent.test_grounded import RETURNS, FakeRetriever
from tests.agent.test_speech_out import ScriptedTTS
from tests.server.http_stubs import Answer, Recorded, stub_server
from tests.server.test_session_runtime import FakeOutbox, _until_idle, build_manager

SECRET = "Zelda Quartermaine here, my passport is 4417XQ"
REPLY = ["Refunds", " arrive", " within", " forty-five", " weekdays."]
PERSONA = """---
name: Sam
knowledge: {base: acme, top_k: 3, min_similarity: 0.4, scope: open}
---
You are Sam from Acme support.
"""
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (installed once; OpenTelemetry allows no second), with
    this module's in-memory exporter attached."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    yield _EXPORTER


@pytest.fixture(autouse=True)
def _clear(spans: InMemorySpanExporter) -> None:
    spans.clear()


class SaysLLM:
    """Says the given pieces, ``interval`` seconds apart (fails with ``error`` if set)."""

    ready = True
    queue_depth = 0

    def __init__(
        self, pieces: Sequence[str], interval: float = 0.001, error: Exception | None = None
    ) -> None:
        self.pieces = pieces
        self.interval = interval
        self.error = error

    @property
    def name(self) -> str:
        return "scripted"

    async def start(self) -> None: ...

    async def warm(self, messages: Sequence[ChatMessage]) -> None: ...

    async def aclose(self) -> None: ...

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        for piece in self.pieces:
            await asyncio.sleep(self.interval)
            yield piece
        if self.error is not None:
            raise self.error


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    (tmp_path / "default.md").write_text(PERSONA)
    (tmp_path / "knowledge" / "acme").mkdir(parents=True)
    return tmp_path


async def _open(manager: SessionManager, audio_out: bool = False) -> tuple[FakeOutbox, Any]:
    outbox = FakeOutbox()
    runtime = await manager.start(wire.SessionStart(protocol_version="1"), outbox)
    runtime.audio_out = audio_out
    return outbox, runtime


def _turns(spans: InMemorySpanExporter, session_id: str) -> list[ReadableSpan]:
    found = [
        s
        for s in spans.get_finished_spans()
        if s.name == "turn" and (s.attributes or {}).get("session.id") == session_id
    ]
    return sorted(found, key=lambda s: s.start_time or 0)


def _tree(spans: InMemorySpanExporter, turn: ReadableSpan) -> list[ReadableSpan]:
    """The spans of ``turn``'s trace other than the turn, in start order."""
    assert turn.context is not None
    trace_id = turn.context.trace_id
    found = [
        s
        for s in spans.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id and s is not turn
    ]
    return sorted(found, key=lambda s: s.start_time or 0)


def _child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    assert parent.context is not None
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def _within(span: ReadableSpan, parent: ReadableSpan) -> bool:
    assert None not in (span.start_time, span.end_time, parent.start_time, parent.end_time)
    return parent.start_time <= span.start_time <= span.end_time <= parent.end_time  # type: ignore[operator]


def _assert_no_text(spans: Sequence[ReadableSpan], *texts: str) -> None:
    """No word of ``texts`` (of four letters or more) appears anywhere in the spans."""
    dumped = "\n".join(s.to_json() for s in spans).lower()
    for word in re.findall(r"[a-z0-9-]{4,}", " ".join(texts).lower()):
        assert word not in dumped, f"{word!r} leaked into a span"


async def test_a_typed_turn_is_one_trace_with_retrieval_model_and_speech_under_the_turn(
    redis_client: Redis, key_prefix: str, prompts: Path, spans: InMemorySpanExporter
) -> None:
    tts = ScriptedTTS()
    retriever = FakeRetriever([RETURNS])
    manager = build_manager(
        redis_client,
        key_prefix,
        SaysLLM(REPLY),
        prompts=prompts,
        tts=tts,
        retriever_for=lambda base: retriever if base == "acme" else None,
    )
    outbox, runtime = await _open(manager, audio_out=True)

    await runtime.submit_text(SECRET)
    await _until_idle(runtime)
    await manager.shutdown()

    (turn,) = _turns(spans, runtime.session_id)
    children = _tree(spans, turn)
    created = next(f for f in outbox.frames if f["type"] == "response.created")
    segments = [f for f in outbox.frames if f["type"] == "response.audio.segment"]
    assert turn.parent is None, "each turn starts its own trace"
    assert dict(turn.attributes or {}) == {
        "turn.input": "text",
        "session.id": runtime.session_id,
        "persona.id": "default",
        "persona.version": runtime.persona.version,
        "response.id": created["response_id"],
        "turn.status": "completed",
    }
    assert [s.name for s in children] == ["retrieval", "llm.generate"] + ["tts.synthesize"] * len(
        segments
    )
    assert all(_child_of(s, turn) and _within(s, turn) for s in children)

    retrieval, generate, *synthesized = children
    assert dict(retrieval.attributes or {}) == {
        "knowledge.base": "acme",
        "knowledge.top_k": 3,
        "retrieval.passages": 1,
        "retrieval.refused": False,
    }
    llm = dict(generate.attributes or {})
    assert llm["llm.engine"] == "scripted"
    assert llm["llm.tokens"] == len(REPLY)
    assert llm["llm.status"] == "completed"
    assert 0 <= float(llm["llm.first_token_ms"]) < 1000
    assert retrieval.end_time is not None and generate.start_time is not None
    assert retrieval.end_time <= generate.start_time, "retrieval comes first"
    assert [(s.attributes or {})["tts.segment"] for s in synthesized] == list(range(len(segments)))
    assert [(s.attributes or {})["tts.samples"] for s in synthesized] == [
        seg["samples"] for seg in segments
    ]
    (first_audio,) = turn.events
    assert first_audio.name == "first_audio_sent"
    assert dict(first_audio.attributes or {}) == {"response.id": created["response_id"]}
    assert synthesized[0].end_time is not None
    assert synthesized[0].end_time <= first_audio.timestamp, "audio goes after its synthesis"
    _assert_no_text([turn, *children], SECRET, "".join(REPLY))


async def test_interrupted_and_cancelled_turns_end_their_spans_with_the_reason(
    redis_client: Redis, key_prefix: str, prompts: Path, spans: InMemorySpanExporter
) -> None:
    manager = build_manager(
        redis_client, key_prefix, SaysLLM(REPLY * 20, interval=0.005), prompts=prompts
    )
    _, runtime = await _open(manager)

    await runtime.submit_text("first question")
    await asyncio.sleep(0.03)
    await runtime.submit_text("second question")  # interrupts the first reply
    await asyncio.sleep(0.03)
    await runtime.cancel(None)
    await _until_idle(runtime)
    await manager.shutdown()

    first, second = _turns(spans, runtime.session_id)
    assert first.context is not None and second.context is not None
    assert first.context.trace_id != second.context.trace_id
    for turn, reason in ((first, "interrupted"), (second, "client")):
        attributes = turn.attributes or {}
        assert attributes["turn.status"] == "cancelled"
        assert attributes["turn.reason"] == reason
        assert turn.status.status_code is StatusCode.UNSET, "a cancel is not an error"
        (generate,) = [s for s in _tree(spans, turn) if s.name == "llm.generate"]
        assert (generate.attributes or {})["llm.status"] == "cancelled"
        assert 0 < int((generate.attributes or {})["llm.tokens"]) < len(REPLY) * 20


async def test_a_failed_model_marks_the_turn_and_its_generation_as_errors(
    redis_client: Redis, key_prefix: str, prompts: Path, spans: InMemorySpanExporter
) -> None:
    llm = SaysLLM(["Let", " me"], error=LLMUnavailable("model server unreachable"))
    manager = build_manager(redis_client, key_prefix, llm, prompts=prompts)
    _, runtime = await _open(manager)

    await runtime.submit_text(SECRET)
    await _until_idle(runtime)
    await manager.shutdown()

    (turn,) = _turns(spans, runtime.session_id)
    (generate,) = _tree(spans, turn)
    assert (turn.attributes or {})["turn.status"] == "failed"
    assert (turn.attributes or {})["turn.error_code"] == "llm_unavailable"
    assert turn.status.status_code is StatusCode.ERROR
    assert (generate.attributes or {})["llm.error_code"] == "llm_unavailable"
    assert (generate.attributes or {})["llm.tokens"] == 2
    assert generate.status.status_code is StatusCode.ERROR
    _assert_no_text([turn, generate], SECRET)


class BrokenTTS(ScriptedTTS):
    async def synthesize(self, text: str, *, length_scale: float | None = None) -> Synthesis:
        raise TTSError(f"the voice choked on {text!r}")


async def test_a_failed_synthesis_is_an_error_named_by_type_without_the_text(
    redis_client: Redis, key_prefix: str, prompts: Path, spans: InMemorySpanExporter
) -> None:
    manager = build_manager(
        redis_client, key_prefix, SaysLLM(REPLY), prompts=prompts, tts=BrokenTTS()
    )
    _, runtime = await _open(manager, audio_out=True)

    await runtime.submit_text(SECRET)
    await _until_idle(runtime)
    await manager.shutdown()

    (turn,) = _turns(spans, runtime.session_id)
    generate, synthesize = _tree(spans, turn)
    assert synthesize.name == "tts.synthesize"
    assert synthesize.status.status_code is StatusCode.ERROR
    assert synthesize.status.description == "TTSError"
    assert (turn.attributes or {})["turn.error_code"] == "tts_failed"
    _assert_no_text([turn, generate, synthesize], SECRET, "".join(REPLY))


class FixedASR:
    """Answers every transcription with ``text`` after ``delay`` seconds."""

    queue_depth = 0

    def __init__(self, text: str, delay: float = 0.05) -> None:
        self.text = text
        self.delay = delay

    async def transcribe(
        self, audio: Samples, *, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        await asyncio.sleep(self.delay)
        return Transcript(self.text, len(audio) / 16000, self.delay)


@pytest.mark.speech
async def test_a_spoken_turn_starts_at_the_end_of_speech_with_the_final_transcription_in_it(
    redis_client: Redis, key_prefix: str, prompts: Path, spans: InMemorySpanExporter
) -> None:
    from speech.vad import SileroVAD
    from tests import speech_corpus as corpus

    # Made before the session opens: synthesis blocks the loop (and the lease renewal).
    audio = corpus.with_padding(corpus.piper_speech("Can I return these shoes?"), 0.3, 1.2)
    vad = SileroVAD()
    manager = build_manager(redis_client, key_prefix, SaysLLM(REPLY), prompts=prompts)
    _, runtime = await _open(manager)
    voice = VoiceInput(runtime, vad, FixedASR(SECRET), VoiceConfig(), 16000)

    for start in range(0, len(audio), 320):  # 20 ms frames, as fast as they are taken
        await voice.push(audio[start : start + 320])
    await asyncio.sleep(0.05)
    await _until_idle(runtime)
    await voice.close()
    await manager.shutdown()
    vad.close()

    (turn,) = _turns(spans, runtime.session_id)
    asr, generate = _tree(spans, turn)
    assert (turn.attributes or {})["turn.input"] == "voice"
    assert (turn.attributes or {})["turn.status"] == "completed"
    assert [asr.name, generate.name] == ["asr.final", "llm.generate"]
    assert all(_child_of(s, turn) and _within(s, turn) for s in (asr, generate))
    assert dict(asr.attributes or {}).keys() == {
        "asr.audio_ms",
        "asr.compute_ms",
        "asr.reused_speculative",
    }
    assert asr.end_time is not None and generate.start_time is not None
    assert asr.end_time <= generate.start_time
    # The turn starts when speech ended: 1.2 s of audio after it were pushed before the
    # transcription (0.05 s) and the turn could end, so it starts well before its reply.
    assert turn.start_time is not None and asr.start_time is not None
    assert asr.start_time - turn.start_time < 1.3e9
    assert generate.start_time - turn.start_time > 0.05e9
    _assert_no_text([turn, asr, generate], SECRET, "".join(REPLY))


def _chat_stream(_: Recorded) -> Answer:
    chunks = [{"choices": [{"delta": {"content": word}}]} for word in ("Hi", " there.")]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Answer(content_type="text/event-stream", body=body.encode())


async def test_the_model_request_carries_the_traceparent_of_llm_generate(
    redis_client: Redis, key_prefix: str, prompts: Path, spans: InMemorySpanExporter
) -> None:
    with stub_server(_chat_stream) as model_server:
        llm = OpenAICompatLLM(f"{model_server.url}/v1", model="m")
        await llm.start()
        manager = build_manager(redis_client, key_prefix, llm, prompts=prompts)
        outbox, runtime = await _open(manager)
        await runtime.submit_text(SECRET)
        await _until_idle(runtime)
        await manager.shutdown()
        await llm.aclose()

    (turn,) = _turns(spans, runtime.session_id)
    (generate,) = _tree(spans, turn)
    assert generate.context is not None
    (request,) = model_server.requests
    assert request.path == "/v1/chat/completions"
    context = generate.context
    assert context.trace_flags.sampled
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    assert request.headers["traceparent"] == expected
    assert [f["text"] for f in outbox.frames if f["type"] == "response.done"] == ["Hi there."]


async def test_without_a_current_span_no_traceparent_is_sent() -> None:
    with stub_server(_chat_stream) as model_server:
        llm = OpenAICompatLLM(f"{model_server.url}/v1", model="m")
        async for _ in llm.stream([ChatMessage("user", "hi")], GenerationParams()):
            pass
        await llm.aclose()
    assert "traceparent" not in model_server.requests[0].headers


# ── settings → provider ─────────────────────────────────────────────────────


def test_tracing_is_off_by_default() -> None:
    assert build_tracer_provider(TracingSettings(), version="1", instance="a") is None


def test_the_sample_ratio_decides_which_turns_are_recorded() -> None:
    def recorded(ratio: float) -> int:
        provider = build_tracer_provider(
            TracingSettings(exporter="console", sample_ratio=ratio), version="1", instance="a"
        )
        assert provider is not None
        tracer = provider.get_tracer("test")
        count = 0
        for _ in range(200):
            span = tracer.start_span("turn")
            count += span.is_recording()
            span.end()
        provider.shutdown()
        return count

    assert recorded(1.0) == 200
    assert recorded(0.0) == 0
    assert 50 < recorded(0.5) < 150


def test_otlp_export_reaches_the_collector_with_headers_and_resource() -> None:
    with stub_server(lambda _: Answer(content_type="application/x-protobuf", body=b"")) as stub:
        settings = TracingSettings.model_validate(
            {
                "exporter": "otlp",
                "otlp_endpoint": f"{stub.url}/v1/traces",
                "otlp_headers": {"x-collector-token": "s3cret"},
            }
        )
        provider = build_tracer_provider(settings, version="1.2.3", instance="pod-7")
        assert provider is not None
        with provider.get_tracer("test").start_as_current_span("turn"):
            pass
        assert provider.force_flush(5000)
        provider.shutdown()

    (request,) = stub.requests
    assert request.path == "/v1/traces"
    assert request.headers["x-collector-token"] == "s3cret"
    assert request.headers["content-type"] == "application/x-protobuf"
    export = ExportTraceServiceRequest.FromString(request.body)
    (resource_spans,) = export.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "avatar-agent"
    assert resource["service.version"] == "1.2.3"
    assert resource["service.instance.id"] == "pod-7"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["turn"]


def test_a_second_configuration_in_one_process_keeps_the_first(
    spans: InMemorySpanExporter,
) -> None:
    first = trace.get_tracer_provider()
    settings = TracingSettings(exporter="console")
    assert configure_tracing(settings, version="1", instance="a") is None
    assert trace.get_tracer_provider() is first
