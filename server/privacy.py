"""Delete my data: ``DELETE /v1/sessions/{session_id}``, and closing the deleted session's socket.

The request is authorised by the session's current resume token (the browser has it) or by an
API key (the customer's backend), as ``Authorization: Bearer <credential>``. The store erases
the session's four keys at once (server/redis_store.py) and publishes the id; every process
follows that channel (``follow_deletions``) and closes the socket it holds for the session, if
any, with an ``error`` ``session_deleted`` and close code 4404. Should a process miss the
message (its subscription was down), its next lease renewal, within a third of
``lease_ttl_s``, fails and it closes the socket with ``lease_lost``; the client's resume then
finds no session (``session_not_found``). docs/protocol.md, "Deleting a session".
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Request, Response
from redis.asyncio import Redis

from server.auth import ApiKeys, Refused, bearer_token
from server.redis_store import RedisSessionStore, hash_token

SESSIONS_PATH = "/v1/sessions/{session_id}"
SESSIONS_PREFIX = "/v1/sessions/"
_SESSION_ID = re.compile(r"^sess_[A-Za-z0-9_-]{1,64}$")
log = structlog.get_logger(__name__)

EndSocket = Callable[[], None]


class LiveSockets:
    """This process's sockets by the session they drive, so a deletion can end them."""

    def __init__(self) -> None:
        self._ends: dict[str, list[EndSocket]] = {}

    def add(self, session_id: str, end: EndSocket) -> Callable[[], None]:
        """Register ``end`` (closes one socket of ``session_id``); returns its remover."""
        self._ends.setdefault(session_id, []).append(end)

        def remove() -> None:
            ends = self._ends.get(session_id, [])
            if end in ends:
                ends.remove(end)
            if not ends:
                self._ends.pop(session_id, None)

        return remove

    def end(self, session_id: str) -> int:
        """End every socket of ``session_id`` here; returns how many there were."""
        ends = self._ends.pop(session_id, [])
        for end in ends:
            end()
        return len(ends)

    def __len__(self) -> int:
        return len(self._ends)


async def follow_deletions(
    redis: Redis,
    channel: str,
    live: LiveSockets,
    *,
    subscribed: asyncio.Event | None = None,
    retry_s: float = 1.0,
) -> None:
    """Run until cancelled: end the local sockets of every session id published on
    ``channel``. Resubscribes after a Redis failure; ``subscribed`` is set once listening."""
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            if subscribed is not None:
                subscribed.set()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    data = message["data"]
                    sid = data.decode() if isinstance(data, bytes) else str(data)
                    if live.end(sid):
                        log.info("deleted_session_socket_closed", session_id=sid)
        except Exception:
            log.warning("deletion_listener_failed", retry_s=retry_s, exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
        await asyncio.sleep(retry_s)


def sessions_router(
    store: Callable[[], RedisSessionStore],
    api_keys: ApiKeys,
    live: LiveSockets,
    rate_limit: Callable[[Request], Awaitable[None]],
) -> APIRouter:
    """``DELETE /v1/sessions/{session_id}``: 204 once deleted; 401 ``auth_required`` or
    ``resume_token_invalid``; 404 ``session_not_found``. ``rate_limit`` runs first (per IP).

    Pages on any origin may call it (CORS preflight answered for all): the bearer credential
    is the guard, and a page can only hold the resume tokens of its own sessions."""
    router = APIRouter()

    @router.options(SESSIONS_PATH)
    async def preflight(session_id: str, request: Request) -> Response:
        headers = {
            **cors_headers(request.headers.get("origin")),
            "Access-Control-Allow-Methods": "DELETE",
            "Access-Control-Allow-Headers": "authorization",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    @router.delete(SESSIONS_PATH, status_code=204)
    async def delete_session(session_id: str, request: Request) -> Response:
        """Delete a session's history, event log, metadata and lease, and close its socket."""
        await rate_limit(request)
        credential = bearer_token(request.headers.get("authorization"))
        if credential is None:
            raise Refused(
                401,
                "auth_required",
                message="send Authorization: Bearer <resume token or API key>",
            )
        if not _SESSION_ID.fullmatch(session_id):
            raise Refused(404, "session_not_found", message="no such session")
        key_name = api_keys.identify(credential)
        if key_name is None:
            meta = await store().load_meta(session_id)
            if meta is None:
                raise Refused(404, "session_not_found", message="no such session")
            if not hmac.compare_digest(meta.token_sha256, hash_token(credential)):
                raise Refused(
                    401,
                    "resume_token_invalid",
                    message="neither this session's resume token nor an API key",
                )
        if not await store().erase(session_id):
            raise Refused(404, "session_not_found", message="no such session")
        live.end(session_id)  # here at once; other processes through the channel
        log.info(
            "session_deleted",
            session_id=session_id,
            by=f"api_key:{key_name}" if key_name else "resume_token",
        )
        return Response(status_code=204, headers=cors_headers(request.headers.get("origin")))

    return router


def cors_headers(origin: str | None) -> dict[str, str]:
    """CORS headers of the session API's answers to a page on ``origin``."""
    headers = {"Vary": "Origin"}
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
    return headers
