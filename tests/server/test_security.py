"""The security controls in the whole app, served by uvicorn on real ports, with real Redis:
API keys and required credentials, session tokens, shared rate limits (two app instances),
size limits, deleting a session (its socket closed on the other instance), and retention."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
import websockets
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.app import create_app
from server.auth import ApiKeys, SessionTokens
from server.settings import Settings
from tests.conftest import REDIS_URL
from tests.fakes import ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-shop-0123456789abcdefghijkl"
TOKEN_SECRET = "session-token-secret-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789"
SHOP = "https://shop.example"
REPLY = ["Hello", " there", "."]


@dataclass
class Running:
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _settings(key_prefix: str, **groups: Any) -> Settings:
    base: dict[str, Any] = {
        "prompts_dir": ROOT / "prompts",
        "redis": {"url": REDIS_URL, "key_prefix": key_prefix},
        "voice": {"enabled": False},
        "tts": {"enabled": False},
        "knowledge": {"enabled": False, "refresh_s": 0},
        "frontend": {"enabled": False},
        "session": {"idle_ttl_s": 120, "lease_ttl_s": 3.0},
        "auth": {"api_keys": {"shop": API_KEY}, "token_secret": TOKEN_SECRET},
        "admin": {"tokens": {"alice": ADMIN_TOKEN}},
    }
    for group, values in groups.items():
        base[group] = {**base.get(group, {}), **values} if isinstance(values, dict) else values
    return Settings.model_validate(base)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Running]:
    """The whole app under uvicorn on a free port (forwarded headers off, as in production:
    only the app's own trusted-proxy setting decides whether to believe them)."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, llm=ScriptedLLM.saying(*REPLY)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield Running(port)
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=15)
        structlog.reset_defaults()


Serve = Callable[..., Awaitable[Running]]


@pytest.fixture
async def serve(key_prefix: str, redis_client: Redis) -> AsyncIterator[Serve]:
    """Start app instances sharing ``key_prefix`` (like server processes sharing Redis)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**groups: Any) -> Running:
            return await stack.enter_async_context(serving(_settings(key_prefix, **groups)))

        yield start


async def _start_session(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "session.start", "protocol_version": "1", **fields}))
    started: dict[str, Any] = json.loads(await ws.recv())
    assert started["type"] == "session.started", started
    return started


async def _until(ws: ClientConnection, event_type: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if event["type"] == event_type:
                return event


async def _refused(
    url: str, headers: dict[str, str] | None = None, origin: str | None = None
) -> tuple[int, dict[str, Any], Any]:
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(
            url,
            additional_headers=headers,
            origin=origin,  # type: ignore[arg-type]
            open_timeout=5,
        )
    response = info.value.response
    body = json.loads(response.body) if response.body else {}
    return response.status_code, body, response.headers


def _bearer(credential: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def _metric(running: Running, name: str, **labels: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{running.http}/metrics")).text
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{label_text}}} "):
            return float(line.split()[-1])
    return 0.0


# ── API keys and required credentials ──────────────────────────────────────


async def test_an_api_key_opens_a_socket_that_holds_a_conversation(serve: Serve) -> None:
    app = await serve(auth={"require": "token"})

    async with websockets.connect(app.ws, additional_headers=_bearer()) as ws:
        await _start_session(ws)
        await ws.send(json.dumps({"type": "input.text", "text": "Hi!"}))
        done = await _until(ws, "response.done")

    assert done["status"] == "completed"


async def test_when_credentials_are_required_the_origin_alone_is_refused_with_401(
    serve: Serve,
) -> None:
    app = await serve(auth={"require": "token"}, connection={"allowed_origins": [SHOP]})

    for origin in (None, SHOP, f"http://127.0.0.1:{app.port}"):
        status, body, headers = await _refused(app.ws, origin=origin)
        assert (status, body["error"]["code"]) == (401, "auth_required"), origin
        assert headers["WWW-Authenticate"] == "Bearer"
    assert await _metric(app, "avatar_errors_total", code="auth_required") == 3


async def test_a_wrong_api_key_is_refused_with_401_before_accept(serve: Serve) -> None:
    app = await serve()

    for header in ("Bearer sk-wrong-0123456789abcdefghijkl", "Basic c2hvcDpzZWNyZXQ="):
        status, body, _ = await _refused(app.ws, headers={"Authorization": header})
        assert (status, body["error"]["code"]) == (401, "api_key_invalid")


async def test_by_default_a_client_without_credentials_is_admitted_as_before(
    serve: Serve,
) -> None:
    app = await serve()

    async with websockets.connect(app.ws) as ws:
        await _start_session(ws)
    status, body, _ = await _refused(app.ws, origin="https://evil.example")
    assert (status, body["error"]["code"]) == (403, "origin_not_allowed")


def test_requiring_credentials_without_any_configured_refuses_to_start(key_prefix: str) -> None:
    settings = _settings(key_prefix, auth={"require": "token", "api_keys": {}})
    with pytest.raises(ValueError, match="no client can connect"):
        create_app(settings, llm=ScriptedLLM.saying(*REPLY))


# ── metrics off the public port ────────────────────────────────────────────


async def test_metrics_on_a_port_of_their_own_are_not_on_the_public_one(serve: Serve) -> None:
    port = _free_port()
    app = await serve(host="127.0.0.1", observability={"metrics_port": port})
    async with websockets.connect(app.ws, additional_headers=_bearer()) as ws:
        await _start_session(ws)
        async with httpx.AsyncClient() as client:
            public = await client.get(f"{app.http}/metrics")
            private = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert public.status_code == 404
    assert private.status_code == 200
    assert "avatar_active_sessions 1.0" in private.text


# ── session tokens ─────────────────────────────────────────────────────────


async def _session_token(app: Running, headers: dict[str, str], **body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{app.http}/v1/session/token", json=body, headers=headers)


async def test_a_backend_gets_a_session_token_that_admits_its_origin_only(serve: Serve) -> None:
    app = await serve(auth={"require": "token"})

    response = await _session_token(
        app, _bearer(), origin="HTTPS://Shop.example/", persona="default", user_id="u-1", ttl_s=60
    )

    assert response.status_code == 200, response.text
    grant = response.json()
    assert grant["expires_in_s"] == 60 and grant["origin"] == SHOP
    assert grant["persona"] == "default" and grant["expires_at"] >= time.time() + 55
    assert response.headers["cache-control"] == "no-store"
    url = f"{app.ws}?token={grant['token']}"
    async with websockets.connect(url, origin=SHOP) as ws:  # type: ignore[arg-type]
        started = await _start_session(ws)
    assert started["config"]["persona"]["id"] == "default"

    for origin in ("https://evil.example", None):
        status, body, _ = await _refused(url, origin=origin)
        assert (status, body["error"]["code"]) == (403, "token_origin_mismatch")


async def test_an_expired_session_token_is_refused(serve: Serve) -> None:
    app = await serve(auth={"require": "token"})
    sessions = SessionTokens(
        TOKEN_SECRET.encode(), ApiKeys({"shop": API_KEY}), default_ttl_s=10, max_ttl_s=60
    )
    old = sessions.issue("shop", SHOP, persona=None, ttl_s=10, user_id=None, now=int(time.time()))
    stale = sessions.issue(
        "shop", SHOP, persona=None, ttl_s=10, user_id=None, now=int(time.time()) - 11
    )

    async with websockets.connect(f"{app.ws}?token={old.token}", origin=SHOP):  # type: ignore[arg-type]
        pass
    status, body, _ = await _refused(f"{app.ws}?token={stale.token}", origin=SHOP)
    assert (status, body["error"]["code"]) == (403, "token_expired")
    assert await _metric(app, "avatar_errors_total", code="token_expired") == 1


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"origin": SHOP}, 401, "auth_required"),
        (_bearer("sk-wrong-0123456789abcdefghijkl"), {"origin": SHOP}, 401, "api_key_invalid"),
        (_bearer(), {"origin": "shop.example"}, 400, "invalid_request"),
        (_bearer(), {"origin": SHOP, "admin": True}, 400, "invalid_request"),
        (_bearer(), {"origin": SHOP, "ttl_s": 5}, 400, "invalid_request"),
        (_bearer(), {"origin": SHOP, "ttl_s": 7200}, 400, "invalid_request"),
        (_bearer(), {"origin": SHOP, "persona": "nobody"}, 400, "persona_not_found"),
        (_bearer(), {"origin": SHOP, "user_id": "u" * 200}, 400, "invalid_request"),
    ],
)
async def test_session_token_requests_are_refused_with_a_code(
    serve: Serve, headers: dict[str, str], body: dict[str, Any], status: int, code: str
) -> None:
    app = await serve()

    response = await _session_token(app, headers, **body)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert "token" not in response.json()


# ── rate limits ────────────────────────────────────────────────────────────


async def test_two_instances_share_the_upgrade_limit_per_ip(serve: Serve) -> None:
    limits = {"rate_limits": {"upgrades_per_ip": "3/minute"}}
    one, two = await serve(**limits), await serve(**limits)

    for app in (one, two, one):
        async with websockets.connect(app.ws):
            pass
    status, body, headers = await _refused(two.ws)

    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 20
    status, _, _ = await _refused(one.ws, headers=_bearer())
    assert status == 429, "an API key does not lift the per-IP limit"
    assert await _metric(two, "avatar_errors_total", code="rate_limited") == 1


async def test_refused_credentials_count_against_the_address(serve: Serve) -> None:
    app = await serve(rate_limits={"upgrades_per_ip": "2/minute"})

    for _ in range(2):
        status, _, _ = await _refused(app.ws, headers=_bearer("sk-guess-0123456789abcdefghijk"))
        assert status == 401
    status, _, _ = await _refused(app.ws, headers=_bearer("sk-guess-0123456789abcdefghijk"))
    assert status == 429


async def test_each_api_key_has_its_own_upgrade_limit(serve: Serve) -> None:
    app = await serve(
        rate_limits={"upgrades_per_key": "2/minute"},
        auth={"api_keys": {"shop": API_KEY, "ops": "sk-ops-zyxwvutsrqponmlkjihgfedc"}},
    )

    for _ in range(2):
        async with websockets.connect(app.ws, additional_headers=_bearer()):
            pass
    status, _, _ = await _refused(app.ws, headers=_bearer())
    assert status == 429
    async with websockets.connect(
        app.ws, additional_headers=_bearer("sk-ops-zyxwvutsrqponmlkjihgfedc")
    ):
        pass


async def test_forwarded_addresses_count_apart_only_behind_a_trusted_proxy(serve: Serve) -> None:
    trusted = await serve(
        rate_limits={"upgrades_per_ip": "1/minute", "trusted_proxies": ["127.0.0.1"]}
    )
    for client in ("198.51.100.1", "198.51.100.2"):
        async with websockets.connect(trusted.ws, additional_headers={"X-Forwarded-For": client}):
            pass
    status, _, _ = await _refused(trusted.ws, headers={"X-Forwarded-For": "198.51.100.1"})
    assert status == 429


async def test_forwarded_addresses_are_ignored_without_a_trusted_proxy(serve: Serve) -> None:
    app = await serve(rate_limits={"upgrades_per_ip": "1/minute"})

    async with websockets.connect(app.ws, additional_headers={"X-Forwarded-For": "192.0.2.1"}):
        pass
    status, _, _ = await _refused(app.ws, headers={"X-Forwarded-For": "192.0.2.2"})
    assert status == 429


async def test_token_issuance_is_limited_per_address_with_cors_on_the_refusal(
    serve: Serve,
) -> None:
    app = await serve(
        rate_limits={"tokens_per_ip": "2/minute"},
        widget={"keys": {"pk_shop": {"origins": [SHOP]}}, "token_secret": TOKEN_SECRET},
    )
    async with httpx.AsyncClient(headers={"Origin": SHOP}) as client:
        statuses = [
            (await client.post(f"{app.http}/v1/widget/token", json={"key": "pk_shop"})).status_code
            for _ in range(2)
        ]
        refused = await client.post(f"{app.http}/v1/widget/token", json={"key": "pk_shop"})
        session = await client.post(
            f"{app.http}/v1/session/token", json={"origin": SHOP}, headers=_bearer()
        )

    assert statuses == [200, 200]
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    assert refused.headers["Access-Control-Allow-Origin"] == SHOP
    assert int(refused.headers["Retry-After"]) >= 1
    assert session.status_code == 429, "widget and session tokens share the per-IP limit"


async def test_token_issuance_is_limited_per_key(serve: Serve) -> None:
    app = await serve(
        rate_limits={"tokens_per_key": "1/minute"},
        widget={"keys": {"pk_shop": {"origins": [SHOP]}, "pk_two": {"origins": [SHOP]}}},
    )
    async with httpx.AsyncClient(headers={"Origin": SHOP}) as client:
        url = f"{app.http}/v1/widget/token"
        first = await client.post(url, json={"key": "pk_shop"})
        second = await client.post(url, json={"key": "pk_shop"})
        other = await client.post(url, json={"key": "pk_two"})
        session = [
            (
                await client.post(
                    f"{app.http}/v1/session/token", json={"origin": SHOP}, headers=_bearer()
                )
            ).status_code
            for _ in range(2)
        ]

    assert [first.status_code, second.status_code, other.status_code] == [200, 429, 200]
    assert session == [200, 429]


async def test_the_admin_api_is_limited_per_address_before_its_token_is_checked(
    serve: Serve,
) -> None:
    app = await serve(rate_limits={"api_per_ip": "2/minute"})
    async with httpx.AsyncClient() as client:
        url = f"{app.http}/v1/admin/personas"
        good = await client.get(url, headers=_bearer(ADMIN_TOKEN))
        bad = await client.get(url, headers=_bearer("wrong-admin-token-guess"))
        limited = await client.get(url, headers=_bearer(ADMIN_TOKEN))

    assert (good.status_code, bad.status_code) == (200, 401)
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")


async def test_limits_can_be_turned_off(serve: Serve) -> None:
    app = await serve(rate_limits={"enabled": False, "upgrades_per_ip": "1/hour"})
    for _ in range(3):
        async with websockets.connect(app.ws):
            pass


# ── size limits ────────────────────────────────────────────────────────────


async def test_oversize_bodies_are_refused_with_413_on_every_api(serve: Serve) -> None:
    app = await serve(http={"max_body_bytes": 1024, "admin_max_body_bytes": 4096})
    big = {"key": "pk_" + "x" * 2000}
    async with httpx.AsyncClient() as client:
        widget = await client.post(f"{app.http}/v1/widget/token", json=big)
        session = await client.post(
            f"{app.http}/v1/session/token",
            json={"origin": SHOP, "pad": "x" * 2000},
            headers=_bearer(),
        )
        admin = await client.put(
            f"{app.http}/v1/admin/personas/default",
            json={"source": "x" * 5000},
            headers=_bearer(ADMIN_TOKEN),
        )
        admin_ok = await client.post(
            f"{app.http}/v1/admin/personas/default/validate",
            json={"source": "x" * 2000},
            headers=_bearer(ADMIN_TOKEN),
        )

    for response in (widget, session, admin):
        assert (response.status_code, response.json()["error"]["code"]) == (
            413,
            "payload_too_large",
        )
    assert admin_ok.status_code == 200
    assert await _metric(app, "avatar_errors_total", code="payload_too_large") == 3


# ── deleting a session ─────────────────────────────────────────────────────


async def _delete(app: Running, session_id: str, credential: str | None) -> httpx.Response:
    headers = _bearer(credential) if credential else {}
    async with httpx.AsyncClient() as client:
        return await client.delete(f"{app.http}/v1/sessions/{session_id}", headers=headers)


async def _session_keys(redis: Redis, prefix: str, session_id: str) -> list[str]:
    return [k async for k in redis.scan_iter(match=f"{prefix}session:{{{session_id}}}*")]


async def test_deleting_a_session_removes_its_data_and_closes_its_socket_elsewhere(
    serve: Serve, redis_client: Redis, key_prefix: str
) -> None:
    owner, other = await serve(), await serve()
    async with websockets.connect(owner.ws) as ws:
        started = await _start_session(ws)
        sid, token = started["session_id"], started["resume_token"]
        await ws.send(json.dumps({"type": "input.text", "text": "my e-mail is a@b.io"}))
        await _until(ws, "response.done")
        assert len(await _session_keys(redis_client, key_prefix, sid)) == 4

        assert (await _delete(other, sid, "not-the-token")).status_code == 401
        response = await _delete(other, sid, token)

        assert response.status_code == 204
        error = await _until(ws, "error")
        assert (error["code"], error["session_id"], error["retryable"]) == (
            "session_deleted",
            sid,
            False,
        )
        closing = await _until(ws, "session.closing")
        assert (closing["close_code"], closing["resumable"]) == (4404, False)
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(5):
                await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4404

    await asyncio.sleep(0.2)  # the owner's runtime lets go; nothing may write the keys back
    assert await _session_keys(redis_client, key_prefix, sid) == []
    assert (await _delete(owner, sid, token)).status_code == 404


async def test_a_resume_after_deletion_finds_no_session(serve: Serve) -> None:
    app = await serve()
    async with websockets.connect(app.ws) as ws:
        started = await _start_session(ws)
    assert (await _delete(app, started["session_id"], started["resume_token"])).status_code == 204

    async with websockets.connect(app.ws) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "session.resume",
                    "protocol_version": "1",
                    "session_id": started["session_id"],
                    "resume_token": started["resume_token"],
                    "last_seq": 1,
                }
            )
        )
        error = json.loads(await ws.recv())
    assert error["code"] == "session_not_found"


async def test_an_api_key_may_delete_any_session(serve: Serve) -> None:
    app = await serve()
    async with websockets.connect(app.ws) as ws:
        sid = (await _start_session(ws))["session_id"]

    assert (await _delete(app, sid, API_KEY)).status_code == 204
    assert (await _delete(app, sid, API_KEY)).status_code == 404


async def test_a_page_on_another_origin_may_delete_its_own_session(serve: Serve) -> None:
    """The resume token is the guard, so CORS lets every page call the endpoint."""
    app = await serve()
    async with websockets.connect(app.ws) as ws:
        started = await _start_session(ws)
    url = f"{app.http}/v1/sessions/{started['session_id']}"
    async with httpx.AsyncClient(headers={"Origin": SHOP}) as client:
        preflight = await client.options(
            url,
            headers={
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        deleted = await client.delete(url, headers=_bearer(started["resume_token"]))
        again = await client.delete(url, headers=_bearer(started["resume_token"]))

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    assert preflight.headers["Access-Control-Allow-Methods"] == "DELETE"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization"
    assert deleted.status_code == 204 and deleted.headers["Access-Control-Allow-Origin"] == SHOP
    assert again.status_code == 404 and again.headers["Access-Control-Allow-Origin"] == SHOP


@pytest.mark.parametrize(
    ("session_id", "credential", "status", "code"),
    [
        ("sess_abc", None, 401, "auth_required"),
        ("sess_unknown", "some-resume-token", 404, "session_not_found"),
        ("sess_a.b", API_KEY, 404, "session_not_found"),
        ("sess_" + "x" * 100, API_KEY, 404, "session_not_found"),
    ],
)
async def test_deletion_refusals(
    serve: Serve, session_id: str, credential: str | None, status: int, code: str
) -> None:
    app = await serve()

    response = await _delete(app, session_id, credential)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


# ── retention ──────────────────────────────────────────────────────────────


async def test_every_key_the_server_writes_expires(
    serve: Serve, redis_client: Redis, key_prefix: str
) -> None:
    """Retention: nothing the server writes outlives idle_ttl_s (leases and rate-limit keys
    expire sooner)."""
    app = await serve(widget={"keys": {"pk_shop": {"origins": [SHOP]}}})
    async with websockets.connect(app.ws, additional_headers=_bearer()) as ws:
        started = await _start_session(ws)
        await ws.send(json.dumps({"type": "input.text", "text": "Hi!"}))
        await _until(ws, "response.done")
        async with httpx.AsyncClient(headers={"Origin": SHOP}) as client:
            await client.post(f"{app.http}/v1/widget/token", json={"key": "pk_shop"})
    async with websockets.connect(app.ws) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "session.resume",
                    "protocol_version": "1",
                    "session_id": started["session_id"],
                    "resume_token": started["resume_token"],
                    "last_seq": 0,
                }
            )
        )
        await _until(ws, "session.resumed")

    keys = [k async for k in redis_client.scan_iter(match=f"{key_prefix}*")]
    kinds = {k.removeprefix(key_prefix).split(":")[0] for k in keys}
    assert kinds == {"session", "rl"}, keys
    for key in keys:
        ttl_ms = await redis_client.pttl(key)
        if ttl_ms == -2:  # gone since the scan (the closing session released its lease)
            continue
        assert 0 < ttl_ms <= 120_000, (key, ttl_ms)
