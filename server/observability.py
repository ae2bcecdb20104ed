"""Structured logging (structlog, JSON) and optional Sentry.

Logs are bound to ``session_id`` through context variables. User text never goes into a log
message: where it must be logged it goes under the key ``text``, which the redaction processor
removes unless debug logging is on. The same processor replaces e-mail addresses, phone and
card numbers (and, if asked, IP addresses) in every value, tracebacks included, and Sentry
events pass through it too (server/redaction.py, docs/security.md).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from server.redaction import RedactingFilter, Redactor, log_processor, sentry_before_send
from server.settings import ObservabilitySettings, PrivacySettings


def _redactor(privacy: PrivacySettings | None) -> Redactor:
    privacy = privacy or PrivacySettings()
    return Redactor(pii=privacy.redact_pii, ip_addresses=privacy.redact_ip_addresses)


def configure_logging(
    settings: ObservabilitySettings, privacy: PrivacySettings | None = None
) -> None:
    level = getattr(logging, settings.log_level.upper())
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level, force=True)
    redactor = _redactor(privacy)
    RedactingFilter(redactor).install("uvicorn", "uvicorn.error", "uvicorn.access")
    logging.getLogger("faster_whisper").setLevel(max(level, logging.WARNING))
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    processors += [
        structlog.processors.format_exc_info,
        # after format_exc_info, so tracebacks are redacted too
        log_processor(redactor, keep_text=settings.log_level == "debug"),
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


def init_sentry(
    settings: ObservabilitySettings, release: str, privacy: PrivacySettings | None = None
) -> bool:
    """Initialise Sentry when a DSN is configured; returns whether it was. Events leave
    without local variables, request bodies or query strings, and redacted."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=release,
        traces_sample_rate=0.0,
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        before_send=sentry_before_send(_redactor(privacy)),
    )
    return True
