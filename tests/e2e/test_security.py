"""Security against two real server processes that require credentials: API keys, a session
token issued by one process and used on the other, deletion closing a socket on the other
process, a per-key rate limit shared by both, and no user text in their logs."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
import websockets
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import REDIS_URL
from tests.e2e.conftest import ServerProcess, StartServer

pytestmark = pytest.mark.model

KEYS = {
    "conversation": "sk-e2e-conversation-0123456789ab",
    "deletion": "sk-e2e-deletion-0123456789abcdef",
    "limited": "sk-e2e-limited-0123456789abcdefg",
}
SHOP = "https://shop.example"
ENV = {
    "AVATAR_AUTH__REQUIRE": "token",
    "AVATAR_AUTH__API_KEYS": json.dumps(KEYS),
    "AVATAR_AUTH__TOKEN_SECRET": "e2e-session-token-secret-0123456789abcdef",
    "AVATAR_RATE_LIMITS__UPGRADES_PER_KEY": "3/minute",
    "AVATAR_VOICE__ENABLED": "false",
    "AVATAR_TTS__ENABLED": "false",
}
PRIVATE = "reach me at jane.doe@example.com or +44 20 7946 0958"


@pytest.fixture(scope="module")
def pair(start_server: StartServer) -> tuple[ServerProcess, ServerProcess]:
    return start_server("sec-a", **ENV), start_server("sec-b", **ENV)


def _bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


async def _start(ws: ClientConnection) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "session.start", "protocol_version": "1"}))
    started: dict[str, Any] = json.loads(await ws.recv())
    assert started["type"] == "session.started", started
    return started


async def _until(ws: ClientConnection, event_type: str, timeout: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if event["type"] == event_type:
                return event


async def _refused(url: str, **kwargs: Any) -> tuple[int, str, Any]:
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(url, open_timeout=10, **kwargs)
    response = info.value.response
    return response.status_code, json.loads(response.body)["error"]["code"], response.headers


def _metric(server: ServerProcess, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.http}/metrics").text
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}{{{re.escape(label_text)}}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_an_api_key_converses_and_a_client_without_one_is_refused(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, _ = pair
    async with websockets.connect(a.url, additional_headers=_bearer("conversation")) as ws:
        await _start(ws)
        await ws.send(json.dumps({"type": "input.text", "text": PRIVATE}))
        done = await _until(ws, "response.done")
    assert done["status"] == "completed"

    for origin in (None, f"http://127.0.0.1:{a.port}"):
        status, code, headers = await _refused(a.url, origin=origin)
        assert (status, code) == (401, "auth_required")
        assert headers["WWW-Authenticate"] == "Bearer"
    status, code, _ = await _refused(a.url, additional_headers={"Authorization": "Bearer no"})
    assert (status, code) == (401, "api_key_invalid")
    assert _metric(a, "avatar_errors_total", code="auth_required") >= 2


async def test_a_session_token_from_one_process_opens_a_socket_on_the_other(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    async with httpx.AsyncClient() as http:
        grant = await http.post(
            f"{a.http}/v1/session/token",
            json={"origin": SHOP, "persona": "default", "user_id": "user-7"},
            headers=_bearer("conversation"),
        )
    assert grant.status_code == 200, grant.text
    url = f"{b.url}?token={grant.json()['token']}"

    async with websockets.connect(url, origin=SHOP) as ws:  # type: ignore[arg-type]
        started = await _start(ws)
    assert started["config"]["persona"]["id"] == "default"
    status, code, _ = await _refused(url, origin="https://evil.example")
    assert (status, code) == (403, "token_origin_mismatch")
    assert "user-7" not in a.log(), "logs hold a hash of the user id, not the id"


async def test_deleting_on_one_process_closes_the_socket_on_the_other(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    async with websockets.connect(a.url, additional_headers=_bearer("deletion")) as ws:
        started = await _start(ws)
        sid = started["session_id"]

        async with httpx.AsyncClient() as http:
            deleted = await http.delete(
                f"{b.http}/v1/sessions/{sid}",
                headers={"Authorization": f"Bearer {started['resume_token']}"},
            )

        assert deleted.status_code == 204
        error = await _until(ws, "error", timeout=10)
        assert (error["code"], error["session_id"]) == ("session_deleted", sid)
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4404

    client = Redis.from_url(REDIS_URL)
    try:
        assert [k async for k in client.scan_iter(match=f"*session:{{{sid}}}*")] == []
    finally:
        await client.aclose()
    async with httpx.AsyncClient() as http:
        again = await http.delete(f"{a.http}/v1/sessions/{sid}", headers=_bearer("deletion"))
    assert again.status_code == 404


async def test_two_processes_share_the_per_key_upgrade_limit(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    for server in (a, b, a):
        async with websockets.connect(server.url, additional_headers=_bearer("limited")):
            pass

    status, code, headers = await _refused(b.url, additional_headers=_bearer("limited"))

    assert (status, code) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 20
    assert _metric(b, "avatar_errors_total", code="rate_limited") >= 1


def test_no_user_text_reaches_the_logs(pair: tuple[ServerProcess, ServerProcess]) -> None:
    for server in pair:
        log = server.log()
        assert "jane.doe@example.com" not in log and "7946 0958" not in log
        assert KEYS["conversation"] not in log
