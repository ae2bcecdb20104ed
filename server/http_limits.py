"""Size limits on every HTTP request and WebSocket upgrade, before any handler runs (ASGI).

- Query string above ``max_query_bytes``: 414 ``uri_too_long``.
- Header names and values above ``max_header_bytes`` in total: 431 ``headers_too_large``.
- HTTP body above the path's limit (``admin_max_body_bytes`` under ``/v1/admin/``, else
  ``max_body_bytes``): 413 ``payload_too_large``. A ``Content-Length`` above it is refused
  before a byte is read; otherwise (chunked uploads) the body is read up to the limit and
  refused as soon as it passes it. Either way, nothing parses a body that is too large: the
  body is buffered here (it is small by construction) and handed to the app in one piece.

On an upgrade the refusal is an HTTP denial response where the server supports it (uvicorn
does), else a close before accept (HTTP 403). The server's own parser limits come first; see
docs/security.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

ADMIN_PREFIX = "/v1/admin/"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Called with (code) for every refusal, e.g. to count it in metrics.
OnRefusal = Callable[[str], None]


class RequestSizeLimits:
    """ASGI middleware enforcing the limits above on ``http`` and ``websocket`` scopes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        admin_max_body_bytes: int,
        max_query_bytes: int,
        max_header_bytes: int,
        on_refusal: OnRefusal | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.admin_max_body_bytes = admin_max_body_bytes
        self.max_query_bytes = max_query_bytes
        self.max_header_bytes = max_header_bytes
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._check_head(scope)
        if refusal is not None:
            await self._refuse(scope, send, *refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self.body_limit(scope.get("path", ""))
        length = _content_length(scope)
        if length is not None and length > limit:
            await self._refuse(scope, send, *_too_large(limit))
            return
        body = await _read_body(receive, limit)
        if body is _GONE:
            return  # the client left mid-body: nobody to answer
        if body is None:
            await self._refuse(scope, send, *_too_large(limit))
            return
        await self.app(scope, _replay(body, receive), send)

    def body_limit(self, path: str) -> int:
        """The body limit of a request to ``path``."""
        if path.startswith(ADMIN_PREFIX):
            return self.admin_max_body_bytes
        return self.max_body_bytes

    def _check_head(self, scope: Scope) -> tuple[int, str, str] | None:
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            return 414, "uri_too_long", f"query string above {self.max_query_bytes} bytes"
        headers = scope.get("headers", [])
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            return 431, "headers_too_large", f"headers above {self.max_header_bytes} bytes"
        return None

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        if self.on_refusal is not None:
            self.on_refusal(code)
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})


def _too_large(limit: int) -> tuple[int, str, str]:
    return 413, "payload_too_large", f"request body above {limit} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


_GONE = b"\x00gone"


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body; None as soon as it passes ``limit`` bytes; ``_GONE`` (compared by
    identity) if the client disconnected first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return _GONE
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the server sends next
    (``http.disconnect``)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
