"""Settings come from AVATAR_* variables and refuse inconsistent values at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.settings import Settings


def test_nested_variables_are_read_with_a_double_underscore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVATAR_LLM__MAX_TOKENS", "42")
    monkeypatch.setenv("AVATAR_CONNECTION__ALLOWED_ORIGINS", '["https://a.example"]')
    settings = Settings()
    assert settings.llm.max_tokens == 42
    assert settings.connection.allowed_origins == ["https://a.example"]


def test_the_openai_engine_needs_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATAR_LLM__ENGINE", "openai")
    with pytest.raises(ValidationError, match="base_url"):
        Settings()


def test_a_heartbeat_slower_than_the_idle_timeout_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVATAR_CONNECTION__IDLE_TIMEOUT_S", "2")
    with pytest.raises(ValidationError, match="heartbeat_interval_s"):
        Settings()
