"""Short-lived signed tokens (pure): ``v1.<claims>.<signature>``.

``claims`` is the base64url (unpadded) encoding of a compact JSON object, ``signature`` the
base64url HMAC-SHA256 of ``v1.<claims>`` under a server secret. A token names the key it was
issued for (``kid``), the browser origin it is bound to, an optional persona it pins, when it was
issued and when it expires (unix seconds), and a random ``jti``; a session token also says so
(``typ``) and may name the user it was issued for (``sub``).

Two kinds share the format: widget tokens (docs/adr/0006), for which ``typ`` and ``sub`` are
left out so they read exactly as before, and browser session tokens issued to an API key
(docs/adr/0009). A verifier accepts one kind only. Nothing here reads settings, clocks or the
network: the caller passes the secret and the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Literal, TypeGuard

from server.origins import normalize_origin

VERSION = "v1"
MAX_TOKEN_CHARS = 2048
"""Longer strings are refused before any decoding or hashing."""

TokenErrorCode = Literal["token_invalid", "token_expired", "token_origin_mismatch"]
TokenKind = Literal["widget", "session"]
_KINDS: tuple[TokenKind, ...] = ("widget", "session")
_REQUIRED = frozenset({"kid", "origin", "persona", "iat", "exp", "jti"})
_OPTIONAL = frozenset({"typ", "sub"})


class TokenError(ValueError):
    """A token was refused. ``code`` says why; the message is for logs, not for clients."""

    def __init__(self, code: TokenErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: TokenErrorCode = code


@dataclass(frozen=True, slots=True)
class TokenClaims:
    kid: str
    """The key the token was issued for (a widget's publishable key)."""
    origin: str
    """The browser origin the token is bound to, normalised (lower case, no trailing ``/``)."""
    persona: str | None
    """The persona a session opened with this token must use; None leaves the choice free."""
    iat: int
    """Issued at, unix seconds."""
    exp: int
    """Expires at, unix seconds: the token is refused from this second on."""
    jti: str
    """Random token id."""
    typ: TokenKind = "widget"
    """Which kind of token: a widget's (the claim is left out) or a browser session's."""
    sub: str | None = None
    """Session tokens: the user the customer's backend issued it for (opaque); else None."""


def new_claims(
    kid: str,
    origin: str,
    persona: str | None,
    *,
    now: int,
    ttl_s: int,
    typ: TokenKind = "widget",
    sub: str | None = None,
) -> TokenClaims:
    """Claims for a token issued at ``now`` that lives ``ttl_s`` seconds, with a fresh ``jti``."""
    return TokenClaims(
        kid=kid,
        origin=normalize_origin(origin),
        persona=persona,
        iat=now,
        exp=now + ttl_s,
        jti=secrets.token_urlsafe(12),
        typ=typ,
        sub=sub,
    )


def sign_token(claims: TokenClaims, secret: bytes) -> str:
    """Encode and sign ``claims`` (``typ`` and ``sub`` only when not the defaults)."""
    fields = asdict(claims)
    if claims.typ == "widget":
        del fields["typ"]
    if claims.sub is None:
        del fields["sub"]
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True)
    signed = f"{VERSION}.{_b64encode(payload.encode('utf-8'))}"
    return f"{signed}.{_b64encode(_mac(signed, secret))}"


def verify_token(
    token: str, secret: bytes, *, now: int, origin: str | None, typ: TokenKind = "widget"
) -> TokenClaims:
    """The claims of ``token`` if it is intact, of kind ``typ``, unexpired at ``now`` and bound
    to ``origin``.

    Checks, in this order: shape and version, signature (constant-time), claims and kind,
    expiry, origin. Raises ``TokenError`` with ``token_invalid`` (malformed, wrong version, bad
    signature, bad claims, another kind), ``token_expired`` (``now >= exp``) or
    ``token_origin_mismatch`` (``origin`` is None or another origin than the token's).
    """
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise TokenError("token_invalid", "token too long or not ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token_invalid", "not three dot-separated parts")
    version, payload_b64, signature_b64 = parts
    if version != VERSION:
        raise TokenError("token_invalid", "unknown token version")
    signature = _b64decode(signature_b64)
    expected = _mac(f"{version}.{payload_b64}", secret)
    if signature is None or not hmac.compare_digest(signature, expected):
        raise TokenError("token_invalid", "bad signature")
    payload = _b64decode(payload_b64)
    claims = _parse_claims(payload) if payload is not None else None
    if claims is None:
        raise TokenError("token_invalid", "malformed claims")
    if claims.typ != typ:
        raise TokenError("token_invalid", f"a {claims.typ} token where a {typ} token is expected")
    if now >= claims.exp:
        raise TokenError("token_expired", "token expired")
    if origin is None or normalize_origin(origin) != claims.origin:
        raise TokenError("token_origin_mismatch", "token issued for another origin")
    return claims


def peek_kind(token: str) -> TokenKind | None:
    """The kind a token *claims* to be, read without checking anything, to pick the verifier
    (which then checks everything, the kind included); None if that cannot be read."""
    parts = token.split(".") if len(token) <= MAX_TOKEN_CHARS and token.isascii() else []
    payload = _b64decode(parts[1]) if len(parts) == 3 else None
    claims = _parse_claims(payload) if payload is not None else None
    return claims.typ if claims is not None else None


# ── internals ──────────────────────────────────────────────────────────────


def _mac(message: str, secret: bytes) -> bytes:
    return hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Strict unpadded base64url: None unless ``text`` is the canonical encoding of its bytes
    (so a token has exactly one spelling and cannot be altered without breaking it)."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        return None
    return data if _b64encode(data) == text else None


def _parse_claims(payload: bytes) -> TokenClaims | None:
    try:
        raw = json.loads(payload)
    except ValueError:  # includes UnicodeDecodeError
        return None
    if not isinstance(raw, dict) or not _REQUIRED <= set(raw) <= _REQUIRED | _OPTIONAL:
        return None
    typ, sub = raw.get("typ", "widget"), raw.get("sub")
    if typ not in _KINDS or (sub is not None and not isinstance(sub, str)):
        return None
    kid, origin, persona, iat, exp, jti = (
        raw["kid"],
        raw["origin"],
        raw["persona"],
        raw["iat"],
        raw["exp"],
        raw["jti"],
    )
    if not (isinstance(kid, str) and isinstance(origin, str) and isinstance(jti, str)):
        return None
    if persona is not None and not isinstance(persona, str):
        return None
    if not (_is_int(iat) and _is_int(exp)):
        return None
    return TokenClaims(kid, origin, persona, iat, exp, jti, typ, sub)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
