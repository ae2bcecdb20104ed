"""The security controls wired together: socket admission, rate limits, session tokens,
request size limits and deletion (docs/security.md lists each with its setting).

``Security.from_settings`` builds everything that needs no I/O when the app is created;
``start`` binds Redis in the app's lifespan (rate limiter, session store for deletions, the
deletion listener) and ``aclose`` stops it. ``install`` adds the middleware, the error handler
and the routes; ``admit_socket`` decides an upgrade (refusing with an HTTP status before
accept); ``token_limit`` and ``api_limit`` are route dependencies for the widget token endpoint
and the admin API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from server.auth import Admission, ApiKeys, Refused, SessionTokens, SocketGate, bearer_token
from server.http_limits import RequestSizeLimits
from server.metrics import Metrics
from server.origins import check_origin
from server.privacy import SESSIONS_PREFIX, LiveSockets, follow_deletions, sessions_router
from server.protocol.errors import CLOSE_POLICY
from server.quotas import Limit, RedisRateLimiter, client_ip, parse_networks, parse_rate
from server.redis_store import RedisSessionStore
from server.settings import Settings
from server.widget import TOKEN_PATH as WIDGET_TOKEN_PATH
from server.widget import WidgetAuth

SESSION_TOKEN_PATH = "/v1/session/token"
log = structlog.get_logger(__name__)


class SessionTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    origin: str = Field(max_length=256, description="The page's origin the token is bound to.")
    persona: str | None = Field(None, min_length=1, max_length=64)
    ttl_s: int | None = Field(None, ge=10, le=86400)
    user_id: str | None = Field(None, min_length=1, max_length=128)

    @field_validator("origin")
    @classmethod
    def _is_an_origin(cls, origin: str) -> str:
        return check_origin(origin)


class Security:
    def __init__(self, settings: Settings, widget: WidgetAuth, metrics: Metrics) -> None:
        auth = settings.auth
        self._settings = settings
        self._metrics = metrics
        self._issued = Counter(
            "avatar_session_tokens",
            "Session tokens issued (POST /v1/session/token), by API key name.",
            ["key"],
            registry=metrics.registry,
        )
        self.api_keys = ApiKeys({n: k.get_secret_value() for n, k in auth.api_keys.items()})
        secret = auth.token_secret or settings.widget.token_secret
        self.session_tokens = SessionTokens(
            secret.get_secret_value().encode() if secret else secrets.token_bytes(32),
            self.api_keys,
            default_ttl_s=auth.session_token_ttl_s,
            max_ttl_s=auth.session_token_max_ttl_s,
        )
        self.gate = SocketGate(
            require=auth.require,
            api_keys=self.api_keys,
            sessions=self.session_tokens,
            widget=widget,
            allowed_origins=settings.connection.allowed_origins,
        )
        self.live = LiveSockets()
        rl = settings.rate_limits
        self._rates = {
            name: parse_rate(getattr(rl, name))
            for name in (
                "upgrades_per_ip",
                "upgrades_per_key",
                "tokens_per_ip",
                "tokens_per_key",
                "api_per_ip",
            )
        }
        self._trusted = parse_networks(rl.trusted_proxies)
        self._widget_keys = frozenset(settings.widget.keys)
        self._limiter: RedisRateLimiter | None = None
        self._store: RedisSessionStore | None = None
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, widget: WidgetAuth, metrics: Metrics) -> Security:
        """Raises ``ValueError`` for a configuration in which no client could connect."""
        if settings.auth.require == "token" and not (
            settings.auth.api_keys or settings.widget.keys
        ):
            raise ValueError(
                "AVATAR_AUTH__REQUIRE=token needs AVATAR_AUTH__API_KEYS or AVATAR_WIDGET__KEYS: "
                "otherwise no client can connect"
            )
        return cls(settings, widget, metrics)

    # ── lifecycle ──────────────────────────────────────────────────────────

    async def start(self, redis: Redis, store: RedisSessionStore) -> None:
        """Bind Redis: the rate limiter, the session store, and the deletion listener (waited
        for up to 5 s, so a deletion right after start-up reaches this process's sockets)."""
        self._limiter = RedisRateLimiter(redis, prefix=self._settings.redis.key_prefix)
        self._store = store
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(
            follow_deletions(redis, store.deleted_channel, self.live, subscribed=subscribed),
            name="deletion-listener",
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.wait(), 5.0)
        secret = self._settings.auth.token_secret or self._settings.widget.token_secret
        if self.api_keys and secret is None:
            log.warning(
                "session_token_secret_random",
                hint="session tokens work on this process only; set "
                "AVATAR_AUTH__TOKEN_SECRET when several processes serve one address",
            )

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.wait({self._listener})
            self._listener = None

    def install(self, app: FastAPI, persona_exists: Callable[[str], bool]) -> None:
        """Add the size-limit middleware, the ``Refused`` handler and the session routes."""
        http = self._settings.http
        app.add_middleware(
            RequestSizeLimits,
            max_body_bytes=http.max_body_bytes,
            admin_max_body_bytes=http.admin_max_body_bytes,
            max_query_bytes=http.max_query_bytes,
            max_header_bytes=http.max_header_bytes,
            on_refusal=lambda code: self._metrics.errors.labels(code=code).inc(),
        )
        app.add_exception_handler(Refused, self._refused_handler)
        app.include_router(self._session_token_router(persona_exists))
        app.include_router(
            sessions_router(self._session_store, self.api_keys, self.live, self.api_limit)
        )

    # ── sockets ────────────────────────────────────────────────────────────

    async def admit_socket(self, ws: WebSocket) -> Admission | None:
        """The socket's admission, or None after refusing it before accept: 401/403 with a
        code (counted in ``avatar_errors_total``), or 429 ``rate_limited`` with Retry-After."""
        ip = self.client_ip(ws)
        origin = ws.headers.get("origin")
        try:
            admission = self.gate.admit(
                origin=origin,
                host=ws.headers.get("host"),
                authorization=ws.headers.get("authorization"),
                token=ws.query_params.get("token"),
                now=int(time.time()),
            )
        except Refused as refused:
            # A failed attempt still counts against the address: no free guessing.
            limited = await self._check(Limit("upgrade_ip", ip, self._rates["upgrades_per_ip"]))
            await self._deny_socket(ws, limited or refused, origin=origin, ip=ip)
            return None
        limits = [Limit("upgrade_ip", ip, self._rates["upgrades_per_ip"])]
        if admission.key is not None:
            subject = f"{admission.via}:{admission.key}"
            limits.append(Limit("upgrade_key", subject, self._rates["upgrades_per_key"]))
        limited = await self._check(*limits)
        if limited is not None:
            await self._deny_socket(ws, limited, origin=origin, ip=ip)
            return None
        # The socket's task logs with these from here on (session_started, errors, ...).
        context = {"admitted_by": admission.via, "auth_key": admission.key}
        context["user_ref"] = _user_ref(admission.user)
        structlog.contextvars.bind_contextvars(**{k: v for k, v in context.items() if v})
        return admission

    async def _deny_socket(
        self, ws: WebSocket, refused: Refused, *, origin: str | None, ip: str
    ) -> None:
        self._metrics.errors.labels(code=refused.code).inc()
        event = (
            "token_refused"
            if refused.code.startswith("token_")
            else "origin_refused"
            if refused.code == "origin_not_allowed"
            else "upgrade_refused"
        )
        log.warning(event, code=refused.code, reason=refused.detail, origin=origin, ip=ip)
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(self._response(refused))
        else:  # the server cannot send a status: a close before accept is a 403
            await ws.close(CLOSE_POLICY)

    # ── HTTP ───────────────────────────────────────────────────────────────

    async def token_limit(self, request: Request) -> None:
        """Route dependency of the widget token endpoint: per IP, and per publishable key
        when the body names a configured one."""
        if request.method == "OPTIONS":
            return
        ip = self.client_ip(request)
        limits = [Limit("token_ip", ip, self._rates["tokens_per_ip"])]
        if request.url.path == WIDGET_TOKEN_PATH:
            key = _widget_key(await request.body())  # bounded by RequestSizeLimits
            if key in self._widget_keys:
                limits.append(Limit("token_key", f"widget:{key}", self._rates["tokens_per_key"]))
        await self._enforce(*limits)

    async def api_limit(self, request: Request) -> None:
        """Route dependency of the admin API and of session deletion: per IP."""
        await self._enforce(Limit("api_ip", self.client_ip(request), self._rates["api_per_ip"]))

    def client_ip(self, conn: HTTPConnection) -> str:
        peer = conn.client.host if conn.client is not None else None
        ip = client_ip(peer, conn.headers.get("x-forwarded-for"), self._trusted)
        return ip or "unknown"

    def _session_token_router(self, persona_exists: Callable[[str], bool]) -> APIRouter:
        router = APIRouter()

        @router.post(SESSION_TOKEN_PATH)
        async def issue_session_token(request: Request) -> Response:
            """A browser session token, for a customer's backend holding an API key."""
            ip = self.client_ip(request)
            key_name = self.api_keys.identify(bearer_token(request.headers.get("authorization")))
            if key_name is None:
                await self._enforce(Limit("token_ip", ip, self._rates["tokens_per_ip"]))
                code = "api_key_invalid" if "authorization" in request.headers else "auth_required"
                raise Refused(401, code, message="send Authorization: Bearer <API key>")
            await self._enforce(
                Limit("token_ip", ip, self._rates["tokens_per_ip"]),
                Limit("token_key", f"api_key:{key_name}", self._rates["tokens_per_key"]),
            )
            try:
                body = SessionTokenRequest.model_validate_json(await request.body())
            except ValidationError as exc:
                fields = sorted(
                    {".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()}
                )
                raise Refused(
                    400,
                    "invalid_request",
                    message='send {"origin", "persona"?, "ttl_s"?, "user_id"?}; check: '
                    + ", ".join(fields),
                ) from None
            if body.ttl_s is not None and body.ttl_s > self.session_tokens.max_ttl_s:
                raise Refused(
                    400,
                    "invalid_request",
                    message=f"ttl_s above {self.session_tokens.max_ttl_s}",
                )
            if body.persona is not None and not persona_exists(body.persona):
                raise Refused(400, "persona_not_found", message="no such persona")
            issued = self.session_tokens.issue(
                key_name,
                body.origin,
                persona=body.persona,
                ttl_s=body.ttl_s,
                user_id=body.user_id,
                now=int(time.time()),
            )
            self._issued.labels(key=key_name).inc()
            log.info(
                "session_token_issued",
                key=key_name,
                origin=issued.claims.origin,
                user_ref=_user_ref(body.user_id),
            )
            return JSONResponse(
                {
                    "token": issued.token,
                    "expires_in_s": issued.expires_in_s,
                    "expires_at": issued.claims.exp,
                    "origin": issued.claims.origin,
                    "persona": issued.claims.persona,
                },
                headers={"Cache-Control": "no-store"},
            )

        return router

    def _session_store(self) -> RedisSessionStore:
        if self._store is None:
            raise RuntimeError("Security.start has not run")
        return self._store

    async def _enforce(self, *limits: Limit) -> None:
        refused = await self._check(*limits)
        if refused is not None:
            raise refused

    async def _check(self, *limits: Limit) -> Refused | None:
        """None if every limit allows the request (which is then counted), else a 429.
        Fails open: with Redis unreachable, requests pass (and the error is counted)."""
        if not self._settings.rate_limits.enabled or self._limiter is None:
            return None
        try:
            decision = await self._limiter.check(limits)
        except RedisError:
            self._metrics.errors.labels(code="rate_limiter_unavailable").inc()
            log.warning("rate_limiter_unavailable", exc_info=True)
            return None
        if decision.allowed:
            return None
        return Refused(
            429,
            "rate_limited",
            f"limit {decision.limit}",
            retry_after_s=decision.retry_after_s,
            message=f"too many requests; retry in {decision.retry_after_s} s",
        )

    async def _refused_handler(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        self._metrics.errors.labels(code=exc.code).inc()
        if exc.status in (401, 429):
            log.warning("request_refused", path=request.url.path, code=exc.code, reason=exc.detail)
        response = self._response(exc)
        origin = request.headers.get("origin")
        path = request.url.path
        if origin is not None and (path == WIDGET_TOKEN_PATH or path.startswith(SESSIONS_PREFIX)):
            # As these endpoints' own answers: readable by the page, so it can show why.
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    @staticmethod
    def _response(refused: Refused) -> JSONResponse:
        headers = {"Cache-Control": "no-store"}
        if refused.retry_after_s is not None:
            headers["Retry-After"] = str(refused.retry_after_s)
        if refused.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(
            {"error": {"code": refused.code, "message": refused.message}},
            status_code=refused.status,
            headers=headers,
        )


def _widget_key(body: bytes) -> str | None:
    """The ``key`` of a widget token request body, if it has one (validated by the handler)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    key = data.get("key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def _user_ref(user_id: str | None) -> str | None:
    """A stable reference to a user id for logs, which never hold the id itself."""
    if user_id is None:
        return None
    return hashlib.sha256(user_id.encode()).hexdigest()[:12]
