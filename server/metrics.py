"""Prometheus metrics of one server process, in a registry of its own (so tests can build many)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from agent import events as ev

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes
        self.active_sessions = Gauge(
            "avatar_active_sessions", "Sessions owned by this process.", registry=r
        )
        self.connections = Gauge("avatar_connections", "Open WebSocket connections.", registry=r)
        self.turns = Counter("avatar_turns", "Replies by final status.", ["status"], registry=r)
        self.errors = Counter("avatar_errors", "Error events sent, by code.", ["code"], registry=r)
        self.stage_latency = Histogram(
            "avatar_stage_latency_seconds",
            "Latency per pipeline stage (llm_first_token, llm_total, voice_to_voice).",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_queue_depth = Gauge(
            "avatar_llm_queue_depth", "Replies waiting for the model.", registry=r
        )
        self.unknown_phonemes = Counter(
            "avatar_unknown_phonemes",
            "Phoneme symbols the viseme table lacks (shown with a safe default).",
            registry=r,
        )
        self.resumes = Counter(
            "avatar_resumes", "Session resumes by outcome.", ["outcome"], registry=r
        )
        self.playback_underruns = Counter(
            "avatar_playback_underruns",
            "Client jitter-buffer underruns while playing replies (from playback.position).",
            registry=r,
        )
        self.widget_tokens = Counter(
            "avatar_widget_tokens",
            "Widget token requests by outcome: issued, or the refusal's code.",
            ["outcome"],
            registry=r,
        )

    def observe_response(self, done: ev.ResponseDone) -> None:
        self.turns.labels(status=done.status).inc()
        if done.timings.first_token_ms is not None:
            self.stage_latency.labels(stage="llm_first_token").observe(
                done.timings.first_token_ms / 1000
            )
        self.stage_latency.labels(stage="llm_total").observe(done.timings.total_ms / 1000)


class MetricsExporter:
    """The registry served on a port of its own (``AVATAR_OBSERVABILITY__METRICS_PORT``), by
    prometheus_client's HTTP server in a daemon thread, so it stays off the public port."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
