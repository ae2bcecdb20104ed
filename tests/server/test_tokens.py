"""server/tokens.py: signed short-lived tokens, every way of refusing one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.tokens import (
    MAX_TOKEN_CHARS,
    TokenClaims,
    TokenError,
    new_claims,
    sign_token,
    verify_token,
)

SECRET = b"s" * 32
ORIGIN = "https://shop.example"
NOW = 1_800_000_000
CLAIMS = TokenClaims(
    kid="pk_demo", origin=ORIGIN, persona="support", iat=NOW, exp=NOW + 300, jti="abc"
)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(payload: object, secret: bytes = SECRET, version: str = "v1") -> str:
    """A correctly signed token around any JSON payload."""
    body = f"{version}.{_b64(json.dumps(payload).encode())}"
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def _code(token: str, *, now: int = NOW, origin: str | None = ORIGIN) -> str:
    with pytest.raises(TokenError) as info:
        verify_token(token, SECRET, now=now, origin=origin)
    return info.value.code


def test_a_signed_token_verifies_to_its_claims() -> None:
    token = sign_token(CLAIMS, SECRET)

    assert token.startswith("v1.") and token.count(".") == 2
    assert verify_token(token, SECRET, now=NOW, origin=ORIGIN) == CLAIMS


def test_claims_without_a_persona_round_trip() -> None:
    claims = TokenClaims("pk_x", ORIGIN, None, NOW, NOW + 10, "j")

    assert verify_token(sign_token(claims, SECRET), SECRET, now=NOW, origin=ORIGIN) == claims


def test_new_claims_normalise_the_origin_and_set_the_lifetime() -> None:
    claims = new_claims("pk_demo", "HTTPS://Shop.Example/", None, now=NOW, ttl_s=300)

    assert (claims.origin, claims.iat, claims.exp) == (ORIGIN, NOW, NOW + 300)
    assert claims.jti != new_claims("pk_demo", ORIGIN, None, now=NOW, ttl_s=300).jti


def test_the_origin_is_compared_ignoring_case_and_trailing_slash() -> None:
    token = sign_token(CLAIMS, SECRET)

    assert verify_token(token, SECRET, now=NOW, origin="https://SHOP.example/") == CLAIMS


def test_the_token_is_valid_until_the_second_before_exp() -> None:
    token = sign_token(CLAIMS, SECRET)

    assert verify_token(token, SECRET, now=CLAIMS.exp - 1, origin=ORIGIN) == CLAIMS
    assert _code(token, now=CLAIMS.exp) == "token_expired"
    assert _code(token, now=CLAIMS.exp + 3600) == "token_expired"


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://shop.example", "https://shop.example:444", None]
)
def test_another_origin_or_none_is_a_mismatch(origin: str | None) -> None:
    assert _code(sign_token(CLAIMS, SECRET), origin=origin) == "token_origin_mismatch"


def test_another_secret_makes_the_token_invalid() -> None:
    token = sign_token(CLAIMS, b"t" * 32)

    assert _code(token) == "token_invalid"


def test_an_expired_token_with_a_bad_signature_is_invalid_not_expired() -> None:
    """The signature is checked first: nothing in a forged token is believed."""
    token = sign_token(CLAIMS, b"t" * 32)

    assert _code(token, now=CLAIMS.exp + 1, origin=None) == "token_invalid"


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changing_any_character_of_any_part_invalidates_the_token(part: int) -> None:
    token = sign_token(CLAIMS, SECRET)
    parts = token.split(".")
    for i in range(len(parts[part])):
        text = parts[part]
        for replacement in ("A", "x", "-"):
            if text[i] == replacement:
                continue
            tampered = [*parts]
            tampered[part] = text[:i] + replacement + text[i + 1 :]
            assert _code(".".join(tampered)) == "token_invalid", (part, i, replacement)


def test_claims_with_a_later_expiry_under_the_old_signature_are_invalid() -> None:
    version, _, signature = sign_token(CLAIMS, SECRET).split(".")
    payload = {
        "kid": "pk_demo",
        "origin": ORIGIN,
        "persona": None,
        "iat": NOW,
        "exp": NOW + 10**6,
        "jti": "abc",
    }
    assert _code(f"{version}.{_b64(json.dumps(payload).encode())}.{signature}") == "token_invalid"


@pytest.mark.parametrize("version", ["v2", "V1", "", "v0"])
def test_an_unknown_version_is_invalid_even_when_signed(version: str) -> None:
    good = sign_token(CLAIMS, SECRET)
    payload = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))

    assert _code(_forge(payload, version=version)) == "token_invalid"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "claims",
        {"kid": "pk_demo"},
        {"kid": "pk", "origin": ORIGIN, "persona": None, "iat": NOW, "exp": NOW + 9},
        {"kid": 1, "origin": ORIGIN, "persona": None, "iat": NOW, "exp": NOW + 9, "jti": "j"},
        {"kid": "k", "origin": None, "persona": None, "iat": NOW, "exp": NOW + 9, "jti": "j"},
        {"kid": "k", "origin": ORIGIN, "persona": 3, "iat": NOW, "exp": NOW + 9, "jti": "j"},
        {"kid": "k", "origin": ORIGIN, "persona": None, "iat": NOW, "exp": "9", "jti": "j"},
        {"kid": "k", "origin": ORIGIN, "persona": None, "iat": NOW, "exp": 9.5e9, "jti": "j"},
        {"kid": "k", "origin": ORIGIN, "persona": None, "iat": True, "exp": NOW + 9, "jti": "j"},
        {"kid": "k", "origin": ORIGIN, "persona": None, "iat": NOW, "exp": NOW + 9, "jti": None},
        {
            "kid": "k",
            "origin": ORIGIN,
            "persona": None,
            "iat": NOW,
            "exp": NOW + 9,
            "jti": "j",
            "admin": True,
        },
    ],
)
def test_signed_claims_of_the_wrong_shape_are_invalid(payload: object) -> None:
    assert _code(_forge(payload)) == "token_invalid"


def test_signed_bytes_that_are_not_json_are_invalid() -> None:
    body = "v1." + _b64(b"\xff\xfe not json")
    mac = hmac.new(SECRET, body.encode(), hashlib.sha256).digest()

    assert _code(f"{body}.{_b64(mac)}") == "token_invalid"


def test_padding_or_a_non_canonical_spelling_is_invalid() -> None:
    version, payload, signature = sign_token(CLAIMS, SECRET).split(".")
    assert _code(f"{version}.{payload}.{signature}=") == "token_invalid"
    # 32 bytes → 43 characters whose last one carries 2 unused bits: set them.
    last = ALPHABET.index(signature[-1])
    respelled = signature[:-1] + ALPHABET[last | 1]
    assert respelled != signature
    assert _code(f"{version}.{payload}.{respelled}") == "token_invalid"


@pytest.mark.parametrize(
    "token",
    ["", ".", "..", "v1", "v1..", "v1.a.b", "v1.a.b.c", "a.b.c", "v1.é.x", "v1.!!!.???", "v1 . ."],
)
def test_garbage_is_invalid(token: str) -> None:
    assert _code(token) == "token_invalid"


def test_an_overlong_token_is_refused_before_decoding() -> None:
    assert _code("v1." + "A" * MAX_TOKEN_CHARS + ".x") == "token_invalid"


@given(st.text(max_size=300))
def test_any_string_is_refused_with_a_code_never_a_crash(token: str) -> None:
    with pytest.raises(TokenError) as info:
        verify_token(token, SECRET, now=NOW, origin=ORIGIN)
    assert info.value.code == "token_invalid"


@given(
    kid=st.text(max_size=40),
    persona=st.none() | st.text(max_size=40),
    iat=st.integers(0, 2**40),
    ttl=st.integers(1, 10**6),
    jti=st.text(max_size=20),
)
def test_any_claims_round_trip(kid: str, persona: str | None, iat: int, ttl: int, jti: str) -> None:
    claims = TokenClaims(kid, ORIGIN, persona, iat, iat + ttl, jti)

    assert verify_token(sign_token(claims, SECRET), SECRET, now=iat, origin=ORIGIN) == claims


@given(index=st.integers(0, 400), char=st.sampled_from([*ALPHABET, ".", "=", "é"]))
def test_any_single_character_change_is_refused(index: int, char: str) -> None:
    token = sign_token(CLAIMS, SECRET)
    i = index % len(token)
    tampered = token[:i] + char + token[i + 1 :]
    if tampered == token:
        return
    with pytest.raises(TokenError):
        verify_token(tampered, SECRET, now=NOW, origin=ORIGIN)
