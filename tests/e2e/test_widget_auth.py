"""The embeddable widget against a real server: publishable key → origin-bound token → socket;
refusals at the token endpoint and at the upgrade; the pinned persona; the served client."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from server.protocol.messages import PROTOCOL_VERSION
from server.tokens import TokenClaims, sign_token
from server.ws_client import RealtimeClient
from tests.e2e.conftest import ROOT, ServerProcess, StartServer

pytestmark = pytest.mark.model

SECRET = "e2e-widget-secret-0123456789abcdefghij"
DEMO = "http://127.0.0.1:8081"  # listed for pk_demo, which pins the "support" persona
OPEN = "http://127.0.0.1:8082"  # listed for pk_open, no pinned persona
EVIL = "https://evil.example"
GLB = b"glTF\x02\x00\x00\x00fake-model"
KEYS = {
    "pk_demo": {"origins": [DEMO], "persona": "support"},
    "pk_open": {"origins": [OPEN]},
}
LEAN = {"AVATAR_VOICE__ENABLED": "false", "AVATAR_TTS__ENABLED": "false"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prompts with a persona that has an avatar, a built client, and an avatars folder."""
    root = tmp_path_factory.mktemp("site")
    prompts = root / "prompts"
    prompts.mkdir()
    default = (ROOT / "prompts" / "default.md").read_text()
    (prompts / "default.md").write_text(default)
    (prompts / "support.md").write_text(
        default.replace("name: Ada\n", "name: Sam\navatar: /avatars/support.glb\n", 1)
    )
    (root / "dist").mkdir()
    (root / "dist" / "index.html").write_text("<!doctype html><title>avatar-agent</title>")
    (root / "avatars").mkdir()
    (root / "avatars" / "support.glb").write_bytes(GLB)
    return root


@pytest.fixture(scope="module")
def server(start_server: StartServer, site: Path) -> ServerProcess:
    return start_server(
        "widget",
        AVATAR_PROMPTS_DIR=str(site / "prompts"),
        AVATAR_WIDGET__KEYS=json.dumps(KEYS),
        AVATAR_WIDGET__TOKEN_SECRET=SECRET,
        AVATAR_FRONTEND__DIST_DIR=str(site / "dist"),
        AVATAR_FRONTEND__AVATARS_DIR=str(site / "avatars"),
        **LEAN,
    )


def _token_request(server: ServerProcess, key: str, origin: str | None) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return httpx.post(f"{server.http}/v1/widget/token", json={"key": key}, headers=headers)


def _token(server: ServerProcess, key: str = "pk_demo", origin: str = DEMO) -> str:
    response = _token_request(server, key, origin)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def _refused_status(url: str, origin: str | None) -> int:
    headers = {"Origin": origin} if origin else None
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(url, additional_headers=headers, open_timeout=10)
    return info.value.response.status_code


def _metric(server: ServerProcess, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.http}/metrics").text
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(label_text)}}} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_a_listed_origin_gets_a_token_whose_socket_holds_a_conversation(
    server: ServerProcess,
) -> None:
    response = _token_request(server, "pk_demo", DEMO)

    assert response.status_code == 200
    grant = response.json()
    assert grant["expires_in_s"] == 300
    assert grant["persona"] == "support"
    assert grant["ws_url"] == f"ws://127.0.0.1:{server.port}/v1/realtime"
    assert response.headers["access-control-allow-origin"] == DEMO
    assert response.headers["vary"] == "Origin"

    client = RealtimeClient(f"{grant['ws_url']}?token={grant['token']}", origin=DEMO)
    started = await client.connect()
    persona = started["config"]["persona"]
    assert (persona["id"], persona["name"]) == ("support", "Sam"), "the key's pinned persona"
    assert persona["avatar"] == {"url": "/avatars/support.glb", "format": "glb"}
    reply = await client.ask("Hello! Who are you?")
    assert reply.status == "completed" and reply.text

    await client.drop()  # a resume on a token-admitted socket works as usual
    resumed = await client.resume()
    assert resumed["config"]["persona"] == persona
    await client.close()
    assert _metric(server, "avatar_widget_tokens_total", outcome="issued") >= 1


async def test_an_unlisted_origin_is_refused_at_the_endpoint_and_at_the_socket(
    server: ServerProcess,
) -> None:
    for origin in (EVIL, OPEN, None):
        response = _token_request(server, "pk_demo", origin)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "token" not in response.json()
    unknown = _token_request(server, "pk_nope", DEMO)
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "widget_key_invalid"

    token = _token(server)  # minted for DEMO
    assert await _refused_status(f"{server.url}?token={token}", EVIL) == 403
    assert await _refused_status(f"{server.url}?token={token}", OPEN) == 403
    assert await _refused_status(f"{server.url}?token={token}", None) == 403
    assert await _refused_status(server.url, EVIL) == 403, "no token: the origin rule, unchanged"
    assert await _refused_status(server.url, DEMO) == 403, "a widget origin needs its token"
    assert _metric(server, "avatar_errors_total", code="token_origin_mismatch") >= 3
    assert _metric(server, "avatar_widget_tokens_total", outcome="origin_not_allowed") >= 3


async def test_expired_tampered_and_foreign_tokens_are_refused_at_the_upgrade(
    server: ServerProcess,
) -> None:
    now = int(time.time())
    expired = sign_token(
        TokenClaims("pk_demo", DEMO, "support", now - 400, now - 100, "jti-old"), SECRET.encode()
    )
    version, payload, signature = _token(server).split(".")
    tampered = f"{version}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}"
    tampered += f".{signature}"
    foreign = sign_token(
        TokenClaims("pk_demo", DEMO, None, now, now + 300, "jti-x"), b"another-secret" * 3
    )
    removed_key = sign_token(
        TokenClaims("pk_gone", DEMO, None, now, now + 300, "jti-y"), SECRET.encode()
    )
    before = _metric(server, "avatar_errors_total", code="token_invalid")

    assert await _refused_status(f"{server.url}?token={expired}", DEMO) == 403
    for bad in (tampered, foreign, removed_key, "garbage", ""):
        assert await _refused_status(f"{server.url}?token={bad}", DEMO) == 403, bad

    assert _metric(server, "avatar_errors_total", code="token_expired") >= 1
    assert _metric(server, "avatar_errors_total", code="token_invalid") == before + 5
    assert "token_refused" in server.log()


def test_the_preflight_is_answered_and_an_unlisted_origin_reads_its_refusal(
    server: ServerProcess,
) -> None:
    url = f"{server.http}/v1/widget/token"
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }

    for origin in (DEMO, OPEN, EVIL):
        allowed = httpx.options(url, headers={"Origin": origin, **ask})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == origin
        assert allowed.headers["access-control-allow-methods"] == "POST"
        assert allowed.headers["access-control-allow-headers"] == "content-type"
    refused = httpx.post(url, json={"key": "pk_demo"}, headers={"Origin": EVIL})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    assert refused.headers["access-control-allow-origin"] == EVIL


async def test_a_pinned_persona_refuses_another_and_the_socket_stays_usable(
    server: ServerProcess,
) -> None:
    client = RealtimeClient(f"{server.url}?token={_token(server)}", origin=DEMO)
    await client._open()
    await client.send(
        {
            "type": "session.start",
            "event_id": "evt_1",
            "protocol_version": PROTOCOL_VERSION,
            "persona": "default",
        }
    )
    error = await client.wait_for("error", raise_errors=False, resumable=False)
    assert (error["code"], error["retryable"], error["event_id"]) == (
        "persona_not_allowed",
        False,
        "evt_1",
    )

    await client.send({"type": "session.start", "protocol_version": PROTOCOL_VERSION})
    started = await client.wait_for("session.started", resumable=False)
    assert started["config"]["persona"]["id"] == "support"
    await client.close()

    free = RealtimeClient(f"{server.url}?token={_token(server, 'pk_open', OPEN)}", origin=OPEN)
    free.persona = "default"
    started = await free.connect()
    assert started["config"]["persona"]["id"] == "default", "a key without a pin leaves it free"
    assert started["config"]["persona"]["avatar"] is None
    await free.close()


def test_the_page_and_the_avatar_files_are_served_beside_the_api(server: ServerProcess) -> None:
    page = httpx.get(f"{server.http}/")
    assert page.status_code == 200
    assert "<title>avatar-agent</title>" in page.text
    model = httpx.get(f"{server.http}/avatars/support.glb", headers={"Origin": DEMO})
    assert model.status_code == 200
    assert model.content == GLB
    assert model.headers["access-control-allow-origin"] == DEMO, "the widget can fetch it"
    assert httpx.get(f"{server.http}/avatars/missing.glb").status_code == 404
    assert httpx.get(f"{server.http}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.http}/metrics").status_code == 200


def test_without_a_built_client_the_page_answers_503_until_it_is_built(
    start_server: StartServer, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    bare = start_server("unbuilt", AVATAR_FRONTEND__DIST_DIR=str(dist), **LEAN)

    page = httpx.get(f"{bare.http}/")
    assert page.status_code == 503
    assert page.json() == {"error": {"code": "frontend_not_built", "message": "run make setup"}}
    assert httpx.get(f"{bare.http}/readyz").status_code == 200, "the server runs regardless"

    dist.mkdir()
    (dist / "index.html").write_text("<p>built</p>")
    assert httpx.get(f"{bare.http}/").text == "<p>built</p>"
