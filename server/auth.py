"""Who may open a socket: API keys, browser session tokens, widget tokens, the origin policy.

Three credentials, one gate (docs/adr/0009, docs/security.md):

- **API keys** (``AVATAR_AUTH__API_KEYS``) authenticate other servers, which send
  ``Authorization: Bearer <key>`` on the upgrade and on the HTTP APIs. Only their SHA-256 is kept
  in memory, and a presented key is compared with every configured digest in constant time.
- **Session tokens** are what a customer's backend (holding an API key) gets from
  ``POST /v1/session/token`` for one browser: the widget token format (server/tokens.py) with
  ``typ: "session"``, bound to an origin, optionally pinning a persona and naming a user.
- **Widget tokens** (server/widget.py, docs/adr/0006) as before.

``SocketGate.admit`` decides an upgrade from its headers and ``token`` parameter. Without any
credential the origin policy applies, unless ``AVATAR_AUTH__REQUIRE=token`` closes that door.
Everything here is pure: the caller passes the time and the request's parts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from server.origins import origin_allowed
from server.tokens import TokenClaims, TokenError, new_claims, peek_kind, sign_token, verify_token
from server.widget import IssuedToken, WidgetAuth

API_KEY_MIN_CHARS = 24
_MAX_PRESENTED_CHARS = 512
"""Longer bearer values are refused without hashing."""
_HASHED = re.compile(r"^sha256:([0-9a-f]{64})$")
_SESSION_KEY_LABEL = b"avatar-agent/session-token/v1"

RequireMode = Literal["none", "token"]
AdmissionKind = Literal["api_key", "session", "widget", "origin"]

# What a refused client is told; the TokenError's own message goes to the log only.
_MESSAGES = {
    "auth_required": "this server needs an API key (Authorization: Bearer) or a token",
    "api_key_invalid": "this API key is not valid",
    "token_invalid": "this token is not valid here",
    "token_expired": "this token has expired: fetch a new one",
    "token_origin_mismatch": "this token was issued for another origin",
    "origin_not_allowed": "this origin may not connect",
}


class Refused(Exception):
    """A request refused before it reaches its handler: HTTP ``status`` with an error ``code``.

    ``detail`` is for logs; clients get a fixed message per code."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        retry_after_s: int | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.message = message or _MESSAGES.get(code, code.replace("_", " "))


def is_hashed_key(value: str) -> bool:
    """Whether a configured key is given as ``sha256:<64 hex digits>`` rather than in clear."""
    return _HASHED.fullmatch(value) is not None


def key_digest(configured: str) -> bytes:
    """The SHA-256 a configured key (clear text, or ``sha256:<hex>``) is compared by."""
    match = _HASHED.fullmatch(configured)
    if match is not None:
        return bytes.fromhex(match.group(1))
    return hashlib.sha256(configured.encode("utf-8")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, else None."""
    if authorization is None:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    return credential


class ApiKeys:
    """The configured API keys, by name, kept as SHA-256 digests only."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        """``keys`` maps a name to the key in clear or as ``sha256:<hex>``."""
        self._digests = [(name, key_digest(value)) for name, value in keys.items()]
        self._names = frozenset(keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def identify(self, presented: str | None) -> str | None:
        """The name of the key ``presented`` is, or None. Compares with every key (constant
        time each), so how long it takes says nothing about which one, if any, matched."""
        if not presented or len(presented) > _MAX_PRESENTED_CHARS:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for name, expected in self._digests:
            if hmac.compare_digest(expected, digest):
                found = name
        return found


class SessionTokens:
    """Browser session tokens: issued to an API key's holder for one origin, checked on the
    upgrade like widget tokens (signature, kind, expiry, origin) and refused once the key that
    asked for them is no longer configured."""

    def __init__(
        self, secret: bytes, api_keys: ApiKeys, *, default_ttl_s: int, max_ttl_s: int
    ) -> None:
        # A key of its own, derived from the shared secret: a widget token never verifies here,
        # even when both kinds are signed from one configured secret.
        self._key = hmac.new(secret, _SESSION_KEY_LABEL, hashlib.sha256).digest()
        self._api_keys = api_keys
        self.default_ttl_s = default_ttl_s
        self.max_ttl_s = max_ttl_s

    def issue(
        self,
        key_name: str,
        origin: str,
        *,
        persona: str | None,
        ttl_s: int | None,
        user_id: str | None,
        now: int,
    ) -> IssuedToken:
        """A token for the holder of API key ``key_name``; ``ttl_s`` defaults and is capped by
        the configured lifetimes (the caller validates the range)."""
        lifetime = min(ttl_s or self.default_ttl_s, self.max_ttl_s)
        claims = new_claims(
            key_name, origin, persona, now=now, ttl_s=lifetime, typ="session", sub=user_id
        )
        return IssuedToken(sign_token(claims, self._key), claims, lifetime)

    def admit(self, token: str, origin: str | None, *, now: int) -> TokenClaims:
        """The claims of a session token presented by a socket from ``origin``; raises
        ``TokenError``."""
        claims = verify_token(token, self._key, now=now, origin=origin, typ="session")
        if claims.kid not in self._api_keys:
            raise TokenError("token_invalid", "the API key that asked for it is not configured")
        return claims


@dataclass(frozen=True, slots=True)
class Admission:
    """Why a socket was let in."""

    via: AdmissionKind
    key: str | None
    """The API key's name (``api_key``, and ``session``: the key that asked for the token), the
    widget's publishable key (``widget``), or None (``origin``). Per-key rate limits use it."""
    persona_pin: str | None = None
    """The persona the token pins; None leaves the choice to ``session.start``."""
    user: str | None = None
    """A session token's ``sub``."""


class SocketGate:
    """Decides WebSocket upgrades. Order: an ``Authorization`` header must hold a valid API
    key; else a ``token`` parameter must be a valid session or widget token; else, unless
    ``require`` is ``token``, the origin policy (server/origins.py) decides."""

    def __init__(
        self,
        *,
        require: RequireMode,
        api_keys: ApiKeys,
        sessions: SessionTokens,
        widget: WidgetAuth,
        allowed_origins: Sequence[str],
    ) -> None:
        self._require = require
        self._api_keys = api_keys
        self._sessions = sessions
        self._widget = widget
        self._allowed = list(allowed_origins)

    def admit(
        self,
        *,
        origin: str | None,
        host: str | None,
        authorization: str | None,
        token: str | None,
        now: int,
    ) -> Admission:
        """The admission, or ``Refused`` (401 ``api_key_invalid`` / ``auth_required``; 403
        ``token_invalid`` / ``token_expired`` / ``token_origin_mismatch`` /
        ``origin_not_allowed``)."""
        if authorization is not None:
            name = self._api_keys.identify(bearer_token(authorization))
            if name is None:
                raise Refused(401, "api_key_invalid", "unknown API key or not a Bearer header")
            return Admission("api_key", name)
        if token is not None:
            try:
                if peek_kind(token) == "session":
                    claims = self._sessions.admit(token, origin, now=now)
                    return Admission("session", claims.kid, claims.persona, claims.sub)
                claims = self._widget.admit(token, origin, now=now)
            except TokenError as exc:
                raise Refused(403, exc.code, str(exc)) from None
            return Admission("widget", claims.kid, claims.persona)
        if self._require == "token":
            raise Refused(401, "auth_required", "no API key and no token")
        if not origin_allowed(origin, host, self._allowed):
            raise Refused(403, "origin_not_allowed", "origin neither same-origin nor listed")
        return Admission("origin", None)
