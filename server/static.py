"""The browser client and the avatar files over HTTP.

``frontend/dist`` (the esbuild output) is served at ``/`` and the avatars folder at
``/avatars/``. Mount them after every API route: a mount at ``/`` matches any path. Whether the
client is built is checked per request, so building it needs no restart; until then every path
under ``/`` answers 503 ``frontend_not_built``.

The files are public, but cross-origin reads (a widget on a customer's page fetching an avatar
model) get CORS headers only for origins this server lets in (``cors_origin``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path

import anyio
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from server.settings import FrontendSettings

log = structlog.get_logger(__name__)

AVATARS_PATH = "/avatars"
_MEDIA_TYPES = {
    ".glb": "model/gltf-binary",
    ".vrm": "model/gltf-binary",
    ".gltf": "model/gltf+json",
}


def mount_frontend(
    app: FastAPI, settings: FrontendSettings, cors_origin: Callable[[str], bool]
) -> None:
    """Mount the avatars folder and the built client; call after adding the API routes.

    ``cors_origin(origin)`` says whether a cross-origin page may read the files.
    """
    if not settings.enabled:
        return
    for suffix, media_type in _MEDIA_TYPES.items():
        mimetypes.add_type(media_type, suffix)
    avatars = _Folder(directory=settings.avatars_dir, check_dir=False)
    app.mount(AVATARS_PATH, CrossOriginFiles(avatars, cors_origin), name="avatars")
    client = FrontendFiles(settings.dist_dir)
    app.mount("/", CrossOriginFiles(client, cors_origin), name="frontend")


def log_frontend_state(settings: FrontendSettings) -> None:
    """Say at start-up when the client is not built (the server runs regardless)."""
    if settings.enabled and not (settings.dist_dir / "index.html").is_file():
        log.warning(
            "frontend_not_built",
            dist_dir=str(settings.dist_dir.resolve()),
            hint="run make setup; GET / answers 503 until then",
        )


class FrontendFiles:
    """``dist_dir`` with index.html at ``/``, or 503 ``frontend_not_built`` while it has none."""

    def __init__(self, dist_dir: Path) -> None:
        self._index = dist_dir / "index.html"
        self._files = _Folder(directory=dist_dir, html=True, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # a socket on a path that is not /v1/realtime
            await WebSocketClose()(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if not await anyio.to_thread.run_sync(self._index.is_file):
            response = JSONResponse(
                {"error": {"code": "frontend_not_built", "message": "run make setup"}},
                status_code=503,
            )
            await response(scope, receive, send)
            return
        await self._files(scope, receive, send)


class _Folder(StaticFiles):
    """Static files from a folder that may not exist yet: 404 until it does, not an error."""

    async def check_config(self) -> None:
        return None


class CrossOriginFiles:
    """Adds ``Access-Control-Allow-Origin`` for allowed origins (and ``Vary: Origin`` always)
    to the responses of a static files app."""

    def __init__(self, app: ASGIApp, allowed: Callable[[str], bool]) -> None:
        self._app = app
        self._allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        extra = [(b"vary", b"Origin")]
        if origin is not None and self._allowed(origin):
            extra.append((b"access-control-allow-origin", origin.encode("latin-1")))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self._app(scope, receive, send_with_cors)
