"""server/auth.py: API keys, browser session tokens and the socket gate (pure)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auth import (
    Admission,
    ApiKeys,
    Refused,
    SessionTokens,
    SocketGate,
    bearer_token,
    is_hashed_key,
    key_digest,
)
from server.settings import AuthSettings, WidgetKey
from server.tokens import TokenError, new_claims, peek_kind, sign_token, verify_token
from server.widget import WidgetAuth

NOW = 1_800_000_000
SHOP = "https://shop.example"
OTHER = "https://other.example"
KEY = "sk-shop-0123456789abcdefghijkl"
OPS = "sk-ops-zyxwvutsrqponmlkjihgfedc"
SECRET = b"q" * 32
KEYS = {"shop": KEY, "ops": "sha256:" + hashlib.sha256(OPS.encode()).hexdigest()}


def _gate(require: str = "none", allowed: list[str] | None = None) -> SocketGate:
    api_keys = ApiKeys(KEYS)
    widget = WidgetAuth({"pk_shop": WidgetKey(origins=[SHOP], persona="support")}, SECRET, 300)
    return SocketGate(
        require=require,  # type: ignore[arg-type]
        api_keys=api_keys,
        sessions=SessionTokens(SECRET, api_keys, default_ttl_s=300, max_ttl_s=3600),
        widget=widget,
        allowed_origins=allowed or [],
    )


def _sessions() -> SessionTokens:
    return SessionTokens(SECRET, ApiKeys(KEYS), default_ttl_s=300, max_ttl_s=3600)


def _refusal(gate: SocketGate, **kwargs: str | None) -> tuple[int, str]:
    args: dict[str, str | None] = {"origin": None, "host": None, "authorization": None}
    args["token"] = None
    args.update(kwargs)
    with pytest.raises(Refused) as info:
        gate.admit(**args, now=NOW)
    return info.value.status, info.value.code


# ── API keys ───────────────────────────────────────────────────────────────


def test_a_key_is_identified_by_name_in_clear_or_configured_as_a_hash() -> None:
    keys = ApiKeys(KEYS)

    assert keys.identify(KEY) == "shop"
    assert keys.identify(OPS) == "ops"
    assert "shop" in keys and "nobody" not in keys and bool(keys)


@pytest.mark.parametrize(
    "presented", [None, "", KEY[:-1], KEY + "x", KEY.upper(), "sha256:" + "0" * 64, "x" * 600]
)
def test_anything_but_a_configured_key_is_unknown(presented: str | None) -> None:
    assert ApiKeys(KEYS).identify(presented) is None


def test_the_configured_hash_itself_is_not_a_key() -> None:
    assert ApiKeys(KEYS).identify(KEYS["ops"]) is None


def test_no_keys_identify_nothing() -> None:
    keys = ApiKeys({})
    assert not keys and keys.identify(KEY) is None


def test_only_digests_are_kept() -> None:
    keys = ApiKeys(KEYS)
    assert KEY not in repr(vars(keys))
    assert key_digest(KEY) == hashlib.sha256(KEY.encode()).digest()
    assert is_hashed_key(KEYS["ops"]) and not is_hashed_key(KEY)


@given(st.text(max_size=80))
def test_any_presented_string_is_compared_without_error(presented: str) -> None:
    assert ApiKeys(KEYS).identify(presented) in (None, "shop", "ops")


@pytest.mark.parametrize(
    ("header", "credential"),
    [
        (f"Bearer {KEY}", KEY),
        (f"bearer  {KEY} ", KEY),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_credentials_are_read_from_the_authorization_header(
    header: str | None, credential: str | None
) -> None:
    assert bearer_token(header) == credential


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"shop": "short"}, "at least 24"),
        ({"bad name": KEY}, "letters, digits"),
        ({"shop": "sha256:abc"}, "at least 24"),
    ],
)
def test_weak_keys_and_bad_names_are_refused_at_start_up(
    keys: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AuthSettings.model_validate({"api_keys": keys})


def test_the_default_token_lifetime_must_fit_the_maximum() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        AuthSettings(session_token_ttl_s=600, session_token_max_ttl_s=300)


# ── session tokens ─────────────────────────────────────────────────────────


def test_a_session_token_admits_its_origin_with_its_persona_and_user() -> None:
    sessions = _sessions()
    issued = sessions.issue(
        "shop", "HTTPS://Shop.example/", persona="support", ttl_s=None, user_id="u-42", now=NOW
    )

    assert issued.expires_in_s == 300
    claims = sessions.admit(issued.token, SHOP, now=NOW + 299)
    assert (claims.kid, claims.origin, claims.persona, claims.sub, claims.typ) == (
        "shop",
        SHOP,
        "support",
        "u-42",
        "session",
    )
    assert peek_kind(issued.token) == "session"


@pytest.mark.parametrize(
    ("now", "origin", "code"),
    [
        (NOW + 120, SHOP, "token_expired"),
        (NOW + 10_000, SHOP, "token_expired"),
        (NOW, OTHER, "token_origin_mismatch"),
        (NOW, None, "token_origin_mismatch"),
        (NOW, "http://shop.example", "token_origin_mismatch"),
    ],
)
def test_expired_session_tokens_and_other_origins_are_refused(
    now: int, origin: str | None, code: str
) -> None:
    sessions = _sessions()
    token = sessions.issue("shop", SHOP, persona=None, ttl_s=120, user_id=None, now=NOW).token

    with pytest.raises(TokenError) as info:
        sessions.admit(token, origin, now=now)
    assert info.value.code == code


def test_a_requested_lifetime_is_capped_by_the_maximum() -> None:
    sessions = SessionTokens(SECRET, ApiKeys(KEYS), default_ttl_s=300, max_ttl_s=600)
    issued = sessions.issue("shop", SHOP, persona=None, ttl_s=5000, user_id=None, now=NOW)
    assert issued.expires_in_s == 600 and issued.claims.exp == NOW + 600


def test_a_session_token_of_a_key_since_removed_is_refused() -> None:
    token = _sessions().issue("shop", SHOP, persona=None, ttl_s=None, user_id=None, now=NOW).token
    later = SessionTokens(SECRET, ApiKeys({"ops": OPS}), default_ttl_s=300, max_ttl_s=3600)

    with pytest.raises(TokenError) as info:
        later.admit(token, SHOP, now=NOW)
    assert info.value.code == "token_invalid"


def test_widget_and_session_tokens_never_pass_for_each_other_even_with_one_secret() -> None:
    widget = WidgetAuth({"pk_shop": WidgetKey(origins=[SHOP])}, SECRET, 300)
    sessions = _sessions()
    widget_token = widget.issue("pk_shop", SHOP, now=NOW).token
    session_token = sessions.issue(
        "shop", SHOP, persona=None, ttl_s=None, user_id=None, now=NOW
    ).token

    for admit, token in ((sessions.admit, widget_token), (widget.admit, session_token)):
        with pytest.raises(TokenError) as info:
            admit(token, SHOP, now=NOW)
        assert info.value.code == "token_invalid"


def test_a_session_claim_signed_with_the_raw_secret_is_refused() -> None:
    """Session tokens use a key derived from the secret, not the secret itself."""
    claims = new_claims("shop", SHOP, None, now=NOW, ttl_s=60, typ="session")
    forged = sign_token(claims, SECRET)

    assert verify_token(forged, SECRET, now=NOW, origin=SHOP, typ="session") == claims
    with pytest.raises(TokenError):
        _sessions().admit(forged, SHOP, now=NOW)


def test_widget_tokens_keep_their_former_claims() -> None:
    """A widget token carries no typ/sub claim, so tokens in flight across a deploy still
    verify, and the documented example keeps its shape."""
    claims = new_claims("pk_shop", SHOP, None, now=NOW, ttl_s=60)
    token = sign_token(claims, SECRET)

    assert peek_kind(token) == "widget"
    assert verify_token(token, SECRET, now=NOW, origin=SHOP) == claims


@pytest.mark.parametrize("token", ["", "v1.x.y", "garbage", "a" * 5000, "v1.é.x"])
def test_peeking_at_garbage_says_nothing(token: str) -> None:
    assert peek_kind(token) is None


# ── the gate ───────────────────────────────────────────────────────────────


def test_an_api_key_admits_a_server_without_an_origin() -> None:
    admission = _gate("token").admit(
        origin=None, host="avatar", authorization=f"Bearer {KEY}", token=None, now=NOW
    )
    assert admission == Admission("api_key", "shop")


@pytest.mark.parametrize("header", ["Bearer nope-nope-nope-nope-nope", "Basic abc", "Bearer"])
def test_a_wrong_api_key_is_refused_even_when_the_origin_would_pass(header: str) -> None:
    assert _refusal(_gate(), authorization=header) == (401, "api_key_invalid")


def test_a_session_token_admits_its_origin_with_the_pin_and_user() -> None:
    gate = _gate("token")
    token = _sessions().issue("shop", SHOP, persona="support", ttl_s=None, user_id="u", now=NOW)

    admission = gate.admit(origin=SHOP, host=None, authorization=None, token=token.token, now=NOW)

    assert admission == Admission("session", "shop", "support", "u")


def test_a_widget_token_still_admits_its_origin() -> None:
    gate = _gate("token")
    widget = WidgetAuth({"pk_shop": WidgetKey(origins=[SHOP], persona="support")}, SECRET, 300)
    token = widget.issue("pk_shop", SHOP, now=NOW).token

    admission = gate.admit(origin=SHOP, host=None, authorization=None, token=token, now=NOW)

    assert admission == Admission("widget", "pk_shop", "support")


def test_token_refusals_are_403_with_the_token_code() -> None:
    gate = _gate()
    token = _sessions().issue("shop", SHOP, persona=None, ttl_s=60, user_id=None, now=NOW - 61)

    assert _refusal(gate, origin=SHOP, token=token.token) == (403, "token_expired")
    fresh = _sessions().issue("shop", SHOP, persona=None, ttl_s=60, user_id=None, now=NOW)
    assert _refusal(gate, origin=OTHER, token=fresh.token) == (403, "token_origin_mismatch")
    assert _refusal(gate, origin=SHOP, token="nonsense") == (403, "token_invalid")


def test_without_credentials_the_origin_policy_decides_by_default() -> None:
    gate = _gate(allowed=[OTHER])

    assert gate.admit(origin=None, host="h", authorization=None, token=None, now=NOW).via == (
        "origin"
    )
    assert gate.admit(origin=OTHER, host="h", authorization=None, token=None, now=NOW).key is None
    assert _refusal(gate, origin="https://evil.example", host="h") == (403, "origin_not_allowed")


@pytest.mark.parametrize("origin", [None, "http://avatar:8765", "https://listed.example"])
def test_when_tokens_are_required_no_origin_is_enough(origin: str | None) -> None:
    gate = _gate("token", allowed=["https://listed.example"])

    assert _refusal(gate, origin=origin, host="avatar:8765") == (401, "auth_required")


def test_refusals_tell_clients_a_fixed_message_not_the_reason() -> None:
    with pytest.raises(Refused) as info:
        _gate().admit(origin=SHOP, host=None, authorization=None, token="v1.a.b", now=NOW)
    assert info.value.message == "this token is not valid here"
    assert info.value.detail  # the reason, for the log
