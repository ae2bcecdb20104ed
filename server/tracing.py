"""OpenTelemetry tracing: the SDK is configured here, and only here; and the turn span's
life cycle (opened per input, ended with the reply) for the session runtime.

``agent/`` and ``speech/`` use the OpenTelemetry API alone (``trace.get_tracer(__name__)``),
which does nothing until this module installs a ``TracerProvider`` for the process. One trace
per turn (docs/observability.md has the span tree):

    turn                      typed input / end of the user's speech → the reply's done
    ├── asr.final             spoken turns: the final transcription
    ├── retrieval             personas with a knowledge base: the search for the turn
    ├── llm.generate          the model's stream (a remote model's trace joins it: traceparent)
    ├── tts.synthesize × n    one per spoken segment
    └── event first_audio_sent

Spans carry ids (session, persona and version, response), counts and timings, never what the
user or the model said.

FastAPI's own instrumentation adds a span per HTTP request and per WebSocket connection
(``WS /v1/realtime``) once a provider is installed; each turn links to its connection's span.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import structlog
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from server.settings import TracingSettings

log = structlog.get_logger(__name__)
_tracer = trace.get_tracer(__name__)

_EXPORT_TIMEOUT_S = 10.0
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def fastapi_telemetry() -> TelemetryConfig:
    """FastAPI's built-in OpenTelemetry, fitted to this server: request and connection spans
    only (no per-dependency spans), probes and scrapes left out (they would be most traces),
    no exporters of its own (``AVATAR_TRACING__*`` configures the one pipeline)."""
    return {
        "operation_spans": False,
        "logs": False,
        "auto_configure": False,
        "exclude": _is_probe,
    }


def _is_probe(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _PROBES


def build_tracer_provider(
    settings: TracingSettings, *, version: str, instance: str
) -> TracerProvider | None:
    """The provider the settings describe, or None when tracing is off. Not installed."""
    if settings.exporter == "none":
        return None
    resource = Resource.create(
        {
            "service.name": settings.service_name,
            "service.version": version,
            "service.instance.id": instance,
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio))
    )
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    return provider


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(
        endpoint=str(settings.otlp_endpoint),
        headers={name: value.get_secret_value() for name, value in settings.otlp_headers.items()},
        timeout=_EXPORT_TIMEOUT_S,
    )


def configure_tracing(
    settings: TracingSettings, *, version: str, instance: str
) -> TracerProvider | None:
    """Install the configured provider as the process's; returns it (to shut down), or None
    when tracing is off or a provider was installed before (OpenTelemetry allows one per
    process; the first stays)."""
    provider = build_tracer_provider(settings, version=version, instance=instance)
    if provider is None:
        return None
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        log.warning("tracing_already_configured", hint="the first configuration stays")
        provider.shutdown()
        return None
    trace.set_tracer_provider(provider)
    log.info(
        "tracing_configured",
        exporter=settings.exporter,
        endpoint=str(settings.otlp_endpoint) if settings.exporter == "otlp" else None,
        sample_ratio=settings.sample_ratio,
    )
    return provider


# ── turn spans (API only: no-ops while tracing is off) ──────────────────────


def open_turn(attributes: Mapping[str, AttributeValue], span: Span | None = None) -> Span:
    """The span of one turn: a new trace, linked to the current span (the connection's) when
    there is one; or ``span`` (voice input opens spoken turns itself) given ``attributes``.
    Attributes are ids only, never text. Whoever runs the reply ends it."""
    if span is None:
        current = trace.get_current_span().get_span_context()
        span = _tracer.start_span(
            "turn",
            context=otel_context.Context(),
            links=[Link(current)] if current.is_valid else None,
        )
    span.set_attributes(attributes)
    return span


@contextlib.contextmanager
def ended_on_error(turn: Span) -> Iterator[None]:
    """End ``turn`` if its reply never starts (the input could not be stored, or the caller
    was cancelled), so no span stays open."""
    try:
        yield
    except BaseException as exc:
        turn.set_attribute("turn.status", "not_started")
        if isinstance(exc, Exception):
            turn.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        turn.end()
        raise


def end_if_unstarted(turn: Span) -> None:
    """A reply task cancelled before it ran never entered its span: end the span here."""
    if turn.is_recording():
        turn.set_attributes({"turn.status": "cancelled", "turn.reason": "before_start"})
        turn.end()


async def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Export the spans still buffered, then stop (off the event loop: exports block)."""
    if provider is not None:
        await asyncio.to_thread(provider.shutdown)
