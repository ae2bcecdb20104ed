"""The embeddable widget's authentication: publishable keys, origins, short-lived tokens.

A page embedding the widget posts its publishable key to ``POST /v1/widget/token``; the browser
adds the page's ``Origin``. If that origin is listed for the key, the answer is a token signed
by this server (server/tokens.py), bound to the origin and valid ``token_ttl_s`` seconds, with
which the page opens ``/v1/realtime?token=...``. The socket checks the token before accepting
the upgrade (server/app.py). docs/adr/0006 says why; docs/protocol.md gives the contract.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.metrics import Metrics
from server.origins import normalize_origin
from server.settings import WidgetKey, WidgetSettings
from server.tokens import TokenClaims, TokenError, new_claims, sign_token, verify_token

TOKEN_PATH = "/v1/widget/token"
_PREFLIGHT_MAX_AGE_S = 600
log = structlog.get_logger(__name__)


class WidgetRefused(Exception):
    """A token request refused: HTTP ``status`` with an error ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: TokenClaims
    expires_in_s: int


class WidgetAuth:
    """Issues and checks widget tokens for the configured keys. Time is passed in."""

    def __init__(self, keys: Mapping[str, WidgetKey], secret: bytes, ttl_s: int) -> None:
        self._keys = dict(keys)
        self._secret = secret
        self._ttl_s = ttl_s
        self._origins = frozenset(o for key in self._keys.values() for o in key.origins)

    @classmethod
    def from_settings(cls, settings: WidgetSettings) -> WidgetAuth:
        """Without ``token_secret``, a random secret: tokens work on this process only."""
        if settings.token_secret is not None:
            secret = settings.token_secret.get_secret_value().encode("utf-8")
        else:
            secret = secrets.token_bytes(32)
        return cls(settings.keys, secret, settings.token_ttl_s)

    def origin_listed(self, origin: str | None) -> bool:
        """Whether ``origin`` is listed under any key (it may get CORS answers)."""
        return origin is not None and normalize_origin(origin) in self._origins

    def issue(self, key_id: str, origin: str | None, *, now: int) -> IssuedToken:
        """A token for ``key_id`` bound to ``origin``; raises ``WidgetRefused``."""
        key = self._keys.get(key_id)
        if key is None:
            raise WidgetRefused(401, "widget_key_invalid", "unknown publishable key")
        if origin is None or normalize_origin(origin) not in key.origins:
            raise WidgetRefused(
                403, "origin_not_allowed", "this key may not be used from this page's origin"
            )
        claims = new_claims(key_id, origin, key.persona, now=now, ttl_s=self._ttl_s)
        return IssuedToken(sign_token(claims, self._secret), claims, self._ttl_s)

    def admit(self, token: str, origin: str | None, *, now: int) -> TokenClaims:
        """The claims of a token presented by a socket from ``origin``; raises ``TokenError``.

        Beyond the signature, expiry and origin, the token's key must still be configured with
        that origin: removing a key or an origin takes effect at once, not after the TTL.
        """
        claims = verify_token(token, self._secret, now=now, origin=origin)
        key = self._keys.get(claims.kid)
        if key is None:
            raise TokenError("token_invalid", "the token's key is no longer configured")
        if claims.origin not in key.origins:
            raise TokenError("token_origin_mismatch", "the origin is no longer listed for the key")
        return claims


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=128)


def widget_router(
    auth: WidgetAuth, metrics: Metrics, *, ws_path: str, clock: Callable[[], float] = time.time
) -> APIRouter:
    """``POST`` and ``OPTIONS`` (CORS preflight) of ``/v1/widget/token``; the answer's
    ``ws_url`` points at ``ws_path`` on the host the request was sent to."""
    router = APIRouter()

    def cors_headers(origin: str | None) -> dict[str, str]:
        # Every page may read the answer: an unlisted origin is told why it gets no token
        # (the widget shows it to whoever embedded it). The origin check itself is ours.
        headers = {"Vary": "Origin", "Cache-Control": "no-store"}
        if origin is not None:
            headers["Access-Control-Allow-Origin"] = origin
        return headers

    def refused(exc: WidgetRefused, origin: str | None) -> JSONResponse:
        metrics.widget_tokens.labels(outcome=exc.code).inc()
        log.warning("widget_token_refused", code=exc.code, origin=origin)
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}},
            status_code=exc.status,
            headers=cors_headers(origin),
        )

    @router.post(TOKEN_PATH)
    async def issue_token(request: Request) -> Response:
        """Exchange a publishable key for a short-lived token bound to the page's origin."""
        origin = request.headers.get("origin")
        try:
            body = TokenRequest.model_validate_json(await request.body())
        except ValidationError:
            return refused(
                WidgetRefused(400, "invalid_request", 'send a JSON object {"key": "pk_..."}'),
                origin,
            )
        try:
            issued = auth.issue(body.key, origin, now=int(clock()))
        except WidgetRefused as exc:
            return refused(exc, origin)
        metrics.widget_tokens.labels(outcome="issued").inc()
        log.info("widget_token_issued", key=issued.claims.kid, origin=issued.claims.origin)
        return JSONResponse(
            {
                "token": issued.token,
                "expires_in_s": issued.expires_in_s,
                "persona": issued.claims.persona,
                "ws_url": _ws_url(request, ws_path),
            },
            headers=cors_headers(origin),
        )

    @router.options(TOKEN_PATH)
    async def preflight(request: Request) -> Response:
        """CORS preflight: answered for any page, so the refusal itself can be read."""
        origin = request.headers.get("origin")
        if origin is None:
            return refused(WidgetRefused(403, "origin_not_allowed", "no Origin header"), origin)
        headers = {
            **cors_headers(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": str(_PREFLIGHT_MAX_AGE_S),
        }
        return Response(status_code=204, headers=headers)

    return router


def _ws_url(request: Request, path: str) -> str:
    """``ws(s)://<Host><path>`` as the browser reaches this server (behind a TLS proxy,
    ``X-Forwarded-Proto: https`` makes it ``wss``)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    secure = (forwarded or request.url.scheme) in ("https", "wss")
    host = request.headers.get("host") or request.url.netloc
    return f"{'wss' if secure else 'ws'}://{host}{path}"
