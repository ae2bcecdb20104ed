"""server/http_limits.py: bodies, query strings and headers bounded before any handler runs."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from server.http_limits import Receive, RequestSizeLimits, Scope, Send

LIMIT = 1000
ADMIN_LIMIT = 5000


@pytest.fixture
def refusals() -> list[str]:
    return []


@pytest.fixture
def client(refusals: list[str]) -> Iterator[TestClient]:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/v1/widget/token")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    @app.put("/v1/admin/personas/x")
    async def admin(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.websocket("/v1/realtime")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hi")
        await ws.close()

    app.add_middleware(
        RequestSizeLimits,
        max_body_bytes=LIMIT,
        admin_max_body_bytes=ADMIN_LIMIT,
        max_query_bytes=300,
        max_header_bytes=2000,
        on_refusal=refusals.append,
    )
    app.state.seen = seen
    with TestClient(app) as test_client:
        yield test_client


def _error(response: object) -> tuple[int, str]:
    status: int = response.status_code  # type: ignore[attr-defined]
    return status, response.json()["error"]["code"]  # type: ignore[attr-defined]


def test_a_body_within_the_limit_reaches_the_handler_whole(client: TestClient) -> None:
    response = client.post("/v1/widget/token", content=b"x" * LIMIT)
    assert response.json() == {"bytes": LIMIT}


def test_a_declared_length_above_the_limit_is_refused_unread(
    client: TestClient, refusals: list[str]
) -> None:
    response = client.post("/v1/widget/token", content=b"x" * (LIMIT + 1))

    assert _error(response) == (413, "payload_too_large")
    assert response.headers["connection"] == "close"
    assert client.app.state.seen == []  # type: ignore[attr-defined]
    assert refusals == ["payload_too_large"]


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(client: TestClient) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(50):
            sent.append(i)
            yield b"y" * 100

    response = client.post("/v1/widget/token", content=chunks())

    assert _error(response) == (413, "payload_too_large")
    assert client.app.state.seen == []  # type: ignore[attr-defined]


def test_a_streamed_body_within_the_limit_is_handed_over_in_one_piece(
    client: TestClient,
) -> None:
    response = client.post("/v1/widget/token", content=iter([b"a" * 400, b"b" * 400]))
    assert response.json() == {"bytes": 800}


def test_the_admin_api_has_its_own_larger_limit(client: TestClient) -> None:
    assert client.put("/v1/admin/personas/x", content=b"x" * ADMIN_LIMIT).json() == {
        "bytes": ADMIN_LIMIT
    }
    assert _error(client.put("/v1/admin/personas/x", content=b"x" * (ADMIN_LIMIT + 1))) == (
        413,
        "payload_too_large",
    )


def test_a_long_query_string_is_refused(client: TestClient) -> None:
    assert client.get("/healthz?q=" + "a" * 290).status_code == 200
    assert _error(client.get("/healthz?q=" + "a" * 400)) == (414, "uri_too_long")


def test_large_headers_are_refused(client: TestClient) -> None:
    assert client.get("/healthz", headers={"x-big": "a" * 1500}).status_code == 200
    assert _error(client.get("/healthz", headers={"x-big": "a" * 2100})) == (
        431,
        "headers_too_large",
    )


def test_an_upgrade_with_a_long_query_is_refused_before_accept(
    client: TestClient, refusals: list[str]
) -> None:
    with client.websocket_connect("/v1/realtime?token=short") as ws:
        assert ws.receive_text() == "hi"

    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("/v1/realtime?token=" + "t" * 400),
    ):
        pass
    assert info.value.status_code == 414
    assert info.value.json()["error"]["code"] == "uri_too_long"
    assert refusals == ["uri_too_long"]


async def _call(
    scope_headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> list[dict[str, Any]]:
    """Drive the middleware directly: returns the messages it (or the app) sent."""
    received: list[dict[str, Any]] = []
    app_bodies: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        app_bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        received.append(dict(message))

    middleware = RequestSizeLimits(
        app,
        max_body_bytes=LIMIT,
        admin_max_body_bytes=LIMIT,
        max_query_bytes=300,
        max_header_bytes=2000,
    )
    scope = {"type": "http", "path": "/x", "headers": scope_headers, "query_string": b""}
    await middleware(scope, receive, send)
    return received


async def test_a_content_length_that_is_not_a_number_does_not_bypass_the_count() -> None:
    sent = await _call([(b"content-length", b"abc")], [b"x" * 600, b"x" * 600])
    assert sent[0]["status"] == 413


async def test_a_client_that_leaves_before_its_body_ends_gets_no_answer() -> None:
    assert await _call([], []) == []  # the first receive is http.disconnect
