"""server/widget.py: publishable keys → origin-bound tokens, over HTTP with CORS."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.personas import PersonaError, PersonaLibrary
from server.app import check_widget_settings
from server.metrics import Metrics
from server.settings import Settings, WidgetKey, WidgetSettings
from server.tokens import TokenError, sign_token, verify_token
from server.widget import TOKEN_PATH, WidgetAuth, WidgetRefused, widget_router

SECRET = b"k" * 32
NOW = 1_800_000_000
SHOP = "https://shop.example"
DEMO = "http://127.0.0.1:8081"
KEYS = {
    "pk_shop": WidgetKey(origins=[SHOP], persona="support"),
    "pk_demo": WidgetKey(origins=[DEMO, "https://demo.example"]),
}


@pytest.fixture
def auth() -> WidgetAuth:
    return WidgetAuth(KEYS, SECRET, ttl_s=300)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def client(auth: WidgetAuth, metrics: Metrics) -> TestClient:
    app = FastAPI()
    app.include_router(widget_router(auth, metrics, ws_path="/v1/realtime", clock=lambda: NOW))
    return TestClient(app, base_url="http://avatar.example")


def _outcome(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("avatar_widget_tokens_total", {"outcome": outcome})
    return value or 0.0


# ── WidgetAuth ─────────────────────────────────────────────────────────────


def test_a_token_is_issued_for_a_listed_origin_and_admits_it(auth: WidgetAuth) -> None:
    issued = auth.issue("pk_shop", "https://SHOP.example/", now=NOW)

    assert issued.expires_in_s == 300
    assert (issued.claims.kid, issued.claims.origin, issued.claims.persona) == (
        "pk_shop",
        SHOP,
        "support",
    )
    assert auth.admit(issued.token, SHOP, now=NOW + 299) == issued.claims


def test_an_unknown_key_is_refused_before_the_origin_is_looked_at(auth: WidgetAuth) -> None:
    with pytest.raises(WidgetRefused) as info:
        auth.issue("pk_nope", None, now=NOW)
    assert (info.value.status, info.value.code) == (401, "widget_key_invalid")


@pytest.mark.parametrize("origin", [None, "https://evil.example", DEMO])
def test_an_origin_not_listed_for_the_key_is_refused(auth: WidgetAuth, origin: str | None) -> None:
    with pytest.raises(WidgetRefused) as info:
        auth.issue("pk_shop", origin, now=NOW)
    assert (info.value.status, info.value.code) == (403, "origin_not_allowed")


def test_a_token_of_a_key_that_was_removed_is_refused(auth: WidgetAuth) -> None:
    issued = auth.issue("pk_shop", SHOP, now=NOW)
    later = WidgetAuth({"pk_demo": KEYS["pk_demo"]}, SECRET, ttl_s=300)

    with pytest.raises(TokenError) as info:
        later.admit(issued.token, SHOP, now=NOW)
    assert info.value.code == "token_invalid"


def test_a_token_for_an_origin_since_removed_from_its_key_is_refused(auth: WidgetAuth) -> None:
    issued = auth.issue("pk_demo", "https://demo.example", now=NOW)
    later = WidgetAuth({"pk_demo": WidgetKey(origins=[DEMO])}, SECRET, ttl_s=300)

    with pytest.raises(TokenError) as info:
        later.admit(issued.token, "https://demo.example", now=NOW)
    assert info.value.code == "token_origin_mismatch"


def test_tokens_are_checked_for_expiry_and_origin_on_admission(auth: WidgetAuth) -> None:
    token = auth.issue("pk_shop", SHOP, now=NOW).token

    for now, origin, code in [
        (NOW + 300, SHOP, "token_expired"),
        (NOW, DEMO, "token_origin_mismatch"),
        (NOW, None, "token_origin_mismatch"),
    ]:
        with pytest.raises(TokenError) as info:
            auth.admit(token, origin, now=now)
        assert info.value.code == code


def test_without_a_configured_secret_each_process_signs_with_its_own() -> None:
    settings = WidgetSettings(keys=KEYS)
    one, two = WidgetAuth.from_settings(settings), WidgetAuth.from_settings(settings)
    token = one.issue("pk_shop", SHOP, now=NOW).token

    with pytest.raises(TokenError, match="signature"):
        two.admit(token, SHOP, now=NOW)


def test_a_configured_secret_is_shared_by_every_process() -> None:
    settings = WidgetSettings.model_validate({"keys": KEYS, "token_secret": "z" * 40})
    one, two = WidgetAuth.from_settings(settings), WidgetAuth.from_settings(settings)
    token = one.issue("pk_shop", SHOP, now=NOW).token

    assert two.admit(token, SHOP, now=NOW).kid == "pk_shop"
    assert verify_token(token, b"z" * 40, now=NOW, origin=SHOP).persona == "support"


# ── POST /v1/widget/token ──────────────────────────────────────────────────


def test_the_endpoint_answers_a_token_the_socket_url_and_cors_headers(
    client: TestClient, auth: WidgetAuth, metrics: Metrics
) -> None:
    response = client.post(TOKEN_PATH, json={"key": "pk_shop"}, headers={"Origin": SHOP})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_in_s", "persona", "ws_url"}
    assert (body["expires_in_s"], body["persona"]) == (300, "support")
    assert body["ws_url"] == "ws://avatar.example/v1/realtime"
    assert auth.admit(body["token"], SHOP, now=NOW).kid == "pk_shop"
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.headers["vary"] == "Origin"
    assert response.headers["cache-control"] == "no-store"
    assert _outcome(metrics, "issued") == 1


def test_a_key_without_a_pinned_persona_answers_null(client: TestClient) -> None:
    response = client.post(TOKEN_PATH, json={"key": "pk_demo"}, headers={"Origin": DEMO})

    assert response.status_code == 200
    assert response.json()["persona"] is None


@pytest.mark.parametrize(
    ("headers", "scheme"),
    [({"X-Forwarded-Proto": "https"}, "wss"), ({"X-Forwarded-Proto": "https, http"}, "wss")],
)
def test_behind_a_tls_proxy_the_socket_url_is_wss(
    client: TestClient, headers: dict[str, str], scheme: str
) -> None:
    response = client.post(TOKEN_PATH, json={"key": "pk_shop"}, headers={"Origin": SHOP, **headers})

    assert response.json()["ws_url"] == f"{scheme}://avatar.example/v1/realtime"


def test_an_https_request_gets_a_wss_url(auth: WidgetAuth, metrics: Metrics) -> None:
    app = FastAPI()
    app.include_router(widget_router(auth, metrics, ws_path="/v1/realtime", clock=lambda: NOW))
    secure = TestClient(app, base_url="https://avatar.example:8443")

    response = secure.post(TOKEN_PATH, json={"key": "pk_shop"}, headers={"Origin": SHOP})

    assert response.json()["ws_url"] == "wss://avatar.example:8443/v1/realtime"


def test_an_unknown_key_is_answered_401(client: TestClient, metrics: Metrics) -> None:
    response = client.post(TOKEN_PATH, json={"key": "pk_nope"}, headers={"Origin": SHOP})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "widget_key_invalid"
    assert response.headers["access-control-allow-origin"] == SHOP, "the page can read why"
    assert _outcome(metrics, "widget_key_invalid") == 1


@pytest.mark.parametrize("origin", [None, "https://evil.example", DEMO])
def test_a_foreign_or_missing_origin_is_answered_403(
    client: TestClient, metrics: Metrics, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}
    response = client.post(TOKEN_PATH, json={"key": "pk_shop"}, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "token" not in response.json()
    assert response.headers.get("access-control-allow-origin") != SHOP
    assert _outcome(metrics, "origin_not_allowed") == 1


def test_an_unlisted_origin_can_read_its_refusal_but_gets_no_token(client: TestClient) -> None:
    response = client.post(
        TOKEN_PATH, json={"key": "pk_shop"}, headers={"Origin": "https://evil.example"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert response.headers["access-control-allow-origin"] == "https://evil.example"
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "content", [b"", b"not json", b"[]", b'{"key": 5}', b'{"key": ""}', b'{"key": "pk", "x": 1}']
)
def test_a_malformed_body_is_answered_400(
    client: TestClient, metrics: Metrics, content: bytes
) -> None:
    response = client.post(
        TOKEN_PATH,
        content=content,
        headers={"Origin": SHOP, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert _outcome(metrics, "invalid_request") == 1


# ── preflight ──────────────────────────────────────────────────────────────


@pytest.mark.parametrize("origin", [SHOP, DEMO, "https://Demo.Example", "https://evil.example"])
def test_the_preflight_is_answered_so_any_page_can_read_the_answer(
    client: TestClient, origin: str
) -> None:
    response = client.options(
        TOKEN_PATH,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-methods"] == "POST"
    assert response.headers["access-control-allow-headers"] == "content-type"
    assert response.headers["vary"] == "Origin"


def test_a_preflight_without_origin_is_refused(client: TestClient, metrics: Metrics) -> None:
    response = client.options(TOKEN_PATH, headers={"Access-Control-Request-Method": "POST"})

    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-methods" not in response.headers
    assert _outcome(metrics, "origin_not_allowed") == 1


def test_a_token_signed_elsewhere_is_not_accepted_by_the_endpoint_auth(auth: WidgetAuth) -> None:
    forged = sign_token(auth.issue("pk_shop", SHOP, now=NOW).claims, b"other" * 8)

    with pytest.raises(TokenError) as info:
        auth.admit(forged, SHOP, now=NOW)
    assert info.value.code == "token_invalid"


# ── start-up checks ────────────────────────────────────────────────────────


def test_a_key_pinning_a_persona_that_does_not_load_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "default.md").write_text("You help.")
    personas = PersonaLibrary(tmp_path)
    monkeypatch.setenv("AVATAR_WIDGET__KEYS", '{"pk_a": {"origins": ["https://a.example"]}}')
    check_widget_settings(Settings(), personas)  # no pin: nothing to check

    monkeypatch.setenv(
        "AVATAR_WIDGET__KEYS",
        '{"pk_a": {"origins": ["https://a.example"], "persona": "default"},'
        ' "pk_b": {"origins": ["https://b.example"], "persona": "missing"}}',
    )
    with pytest.raises(PersonaError, match=r"AVATAR_WIDGET__KEYS\['pk_b'\]\.persona: .*missing"):
        check_widget_settings(Settings(), personas)
