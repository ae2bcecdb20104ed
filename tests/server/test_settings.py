"""Settings come from AVATAR_* variables and refuse inconsistent values at start-up."""

from __future__ import annotations

from pathlib import Path

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


# ── frontend and widget ────────────────────────────────────────────────────


def test_the_frontend_is_served_from_the_repository_folders_by_default() -> None:
    frontend = Settings().frontend

    assert frontend.enabled
    assert frontend.dist_dir == Path("frontend/dist")
    assert frontend.avatars_dir == Path("prompts/avatars")


def test_widget_keys_are_read_as_json_and_their_origins_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AVATAR_WIDGET__KEYS",
        '{"pk_demo": {"origins": ["HTTP://127.0.0.1:8081/", "http://127.0.0.1:8081"],'
        ' "persona": "default"}, "pk_open": {"origins": ["https://shop.example"]}}',
    )
    keys = Settings().widget.keys

    assert keys["pk_demo"].origins == ["http://127.0.0.1:8081"]
    assert keys["pk_demo"].persona == "default"
    assert keys["pk_open"].persona is None


def test_the_widget_defaults_have_no_keys_a_random_secret_and_five_minute_tokens() -> None:
    widget = Settings().widget

    assert (widget.keys, widget.token_secret, widget.token_ttl_s) == ({}, None, 300)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('{"pk_demo": {"origins": []}}', "at least 1 item"),
        ('{"pk_demo": {}}', "origins"),
        ('{"pk_demo": {"origins": ["*"]}}', "'\\*' is not allowed"),
        ('{"pk_demo": {"origins": ["shop.example"]}}', "not an origin"),
        ('{"pk_demo": {"origins": ["https://shop.example/widget"]}}', "drop everything"),
        ('{"pk_demo": {"origins": ["ftp://shop.example"]}}', "not an origin"),
        ('{"pk_demo": {"origins": ["https://shop.example:99999"]}}', "bad host or port"),
        ('{"demo": {"origins": ["https://shop.example"]}}', "must be pk_"),
        ('{"pk_": {"origins": ["https://shop.example"]}}', "must be pk_"),
        ('{"pk_demo": {"origins": ["https://a.example"], "colour": "red"}}', "colour"),
    ],
)
def test_invalid_widget_keys_are_refused_naming_the_problem(
    monkeypatch: pytest.MonkeyPatch, keys: str, message: str
) -> None:
    monkeypatch.setenv("AVATAR_WIDGET__KEYS", keys)
    with pytest.raises(ValidationError, match=message):
        Settings()


@pytest.mark.parametrize("ttl", ["9", "3601"])
def test_the_token_lifetime_is_bounded(monkeypatch: pytest.MonkeyPatch, ttl: str) -> None:
    monkeypatch.setenv("AVATAR_WIDGET__TOKEN_TTL_S", ttl)
    with pytest.raises(ValidationError, match="token_ttl_s"):
        Settings()


def test_a_short_token_secret_is_refused_and_a_long_one_is_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVATAR_WIDGET__TOKEN_SECRET", "short")
    with pytest.raises(ValidationError, match="token_secret"):
        Settings()
    monkeypatch.setenv("AVATAR_WIDGET__TOKEN_SECRET", "x" * 32)
    settings = Settings()
    assert settings.widget.token_secret is not None
    assert settings.widget.token_secret.get_secret_value() == "x" * 32
    assert "x" * 32 not in repr(settings)
