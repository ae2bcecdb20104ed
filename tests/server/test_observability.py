"""Logs are JSON, carry the bound session id, and never show user text unless debugging."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from server.observability import configure_logging, init_sentry
from server.settings import ObservabilitySettings


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """configure_logging binds the current (captured) stderr; later tests must not inherit it."""
    yield
    structlog.reset_defaults()


def test_json_logs_carry_the_session_id_and_redact_user_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(ObservabilitySettings(log_level="info", log_json=True))
    with structlog.contextvars.bound_contextvars(session_id="sess_x"):
        structlog.get_logger("t").info("turn", text="my secret address", resume_token="tok")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "turn"
    assert line["session_id"] == "sess_x"
    assert line["text"] == "[redacted]"
    assert line["resume_token"] == "[redacted]"


def test_debug_logs_keep_text_for_local_troubleshooting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(ObservabilitySettings(log_level="debug", log_json=True))
    structlog.get_logger("t").debug("turn", text="hello")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["text"] == "hello"


def test_sentry_starts_only_when_a_dsn_is_set() -> None:
    assert init_sentry(ObservabilitySettings(), "0") is False
    import sentry_sdk

    assert init_sentry(ObservabilitySettings(sentry_dsn="http://key@127.0.0.1:9/1"), "0") is True
    assert sentry_sdk.get_client().is_active()
    sentry_sdk.get_client().close(timeout=0)
