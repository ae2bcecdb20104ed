"""Structured logging (structlog, JSON) and optional Sentry.

Logs are bound to ``session_id`` through context variables. User text never goes into a log
message: where it must be logged it goes under the key ``text``, which the redaction processor
removes unless debug logging is on.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from server.settings import ObservabilitySettings

_SENSITIVE_KEYS = ("text", "prompt", "resume_token")


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in _SENSITIVE_KEYS:
        if key in event_dict:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(settings: ObservabilitySettings) -> None:
    level = getattr(logging, settings.log_level.upper())
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level, force=True)
    logging.getLogger("faster_whisper").setLevel(max(level, logging.WARNING))
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.log_level != "debug":
        processors.append(_redact)
    processors += [
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


def init_sentry(settings: ObservabilitySettings, release: str) -> bool:
    """Initialise Sentry when a DSN is configured; returns whether it was."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=release,
        traces_sample_rate=0.0,
    )
    return True
