"""server/redaction.py: personal data out of logs and error reports, through the real pipeline."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from server.observability import configure_logging
from server.redaction import (
    REDACTED,
    RedactingFilter,
    Redactor,
    log_processor,
    luhn_valid,
    sentry_before_send,
)
from server.settings import ObservabilitySettings, PrivacySettings

PII = Redactor()
ALL = Redactor(ip_addresses=True)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.basicConfig(force=True)


# ── by value ───────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe@example.com please", "write to [email] please"),
        ("JANE+tag@Mail.Example.co.uk.", "[email]."),
        ("<a.b-c_d%e@sub-domain.example.org>", "<[email]>"),
        ("user@localhost", "user@localhost"),  # no top-level domain: not an address
        ("josé@exämple.de", "[email]"),
        ("two: a@b.io, c@d.io", "two: [email], [email]"),
    ],
)
def test_email_addresses_are_redacted(text: str, expected: str) -> None:
    assert PII.redact(text) == expected


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",  # Visa
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",  # Mastercard
        "2223003122003222",  # Mastercard 2-series
        "378282246310005",  # Amex, 15
        "3782 822463 10005",
        "6011111111111117",  # Discover
        "4222222222222",  # Visa, 13
        "6011000990139424",
    ],
)
def test_card_numbers_with_a_valid_check_digit_are_redacted(card: str) -> None:
    assert PII.redact(f"my card is {card}, thanks") == "my card is [card], thanks"


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111112",  # bad check digit
        "1795244660000",  # a unix time in ms (issuers never start with 1)
        "1234567890123456",
        "411111111111",  # 12 digits
        "41111111111111111111",  # 20 digits
        "9111111111111111",  # no issuer starts with 9 (Luhn-valid anyway)
    ],
)
def test_numbers_that_are_not_cards_are_kept(number: str) -> None:
    assert PII.redact(f"id {number}") == f"id {number}"


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+1 (415) 555-0100",
        "+14155550100",
        "+33 6 12 34 56 78",
        "+49-30-1234567",
        "(415) 555-0100",
        "415-555-0100",
        "415.555.0100",
        "415 555 0100",
        "020 7946 0958",
        "06 12 34 56 78",
        "030-12345678",
        "+1 281 00 0281 0281",  # digits that pass a card's check: still a phone
        "+30 0024 0824 000",
    ],
)
def test_phone_numbers_are_redacted(phone: str) -> None:
    assert PII.redact(f"call me on {phone} today") == "call me on [phone] today"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-03T10:00:00.123456Z",
        "2026-11-03 10:00:00",
        "sess_q3Vb7nR2xKp0LmTw",
        "resp_5f0c1a9e7b2d4c83",
        "550e8400-e29b-41d4-a716-446655440000",
        "version 0.163.2",
        "took 1800 ms, seq 12, last_seq=3",
        "port 8765 and 6379",
        "SmolLM2-135M-Instruct",
        "v1.eyJleHAiOjE3OTUyNDQ5NjAsImlhdCI6MTc5NTI0NDY2MH0.xrXch7aexZIz2lbxIrQG3Dsy9nxk",
        "redis://127.0.0.1:6379/0",
        "1+1=2, 3*4=12",
        "ratio 0.25, 44100 Hz, 16000 samples",
        "persona default@1f2e3d4c",
        "order 12345",
    ],
)
def test_ordinary_log_values_are_left_alone(text: str) -> None:
    assert PII.redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 192.168.1.20 via 10.0.0.1", "from [ip] via [ip]"),
        ("client 2001:db8::1 left", "client [ip] left"),
        ("peer fe80::1ff:fe23:4567:890a", "peer [ip]"),
        ("mapped ::ffff:192.0.2.1", "mapped ::ffff:[ip]"),
        ("at 10:00:00 in std::vector", "at 10:00:00 in std::vector"),
        ("not 999.1.1.1 nor 1.2.3", "not 999.1.1.1 nor 1.2.3"),
    ],
)
def test_ip_addresses_are_redacted_when_asked(text: str, expected: str) -> None:
    assert ALL.redact(text) == expected
    if "[ip]" in expected:
        assert PII.redact(text) == text, "off by default"


def test_redaction_can_be_turned_off() -> None:
    assert Redactor(pii=False).redact("a@b.io +44 20 7946 0958") == "a@b.io +44 20 7946 0958"


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert luhn_valid("0") and luhn_valid("18")


def test_a_long_string_is_redacted_in_linear_time() -> None:
    text = ("x" * 50_000) + "@" + ("1 " * 20_000) + "+" + "9" * 30_000
    started = time.perf_counter()
    ALL.redact(text)
    assert time.perf_counter() - started < 1.0


# ── properties ─────────────────────────────────────────────────────────────

_words = st.text(alphabet=st.sampled_from("abcdefghij .,!?"), max_size=30)
_local = st.from_regex(r"[a-z][a-z0-9._+-]{0,15}[a-z0-9]", fullmatch=True)
_domain = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z]\.(com|org|de|co\.uk|io)", fullmatch=True)


@st.composite
def _cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    body = str(draw(st.integers(2, 6))) + "".join(
        str(draw(st.integers(0, 9))) for _ in range(length - 2)
    )
    check = next(str(d) for d in range(10) if luhn_valid(body + str(d)))
    digits = body + check
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


_phones = st.builds(
    lambda cc, rest, sep: f"+{cc}{sep}{sep.join(rest)}",
    st.integers(1, 99).map(str),
    st.lists(st.from_regex(r"[0-9]{2,4}", fullmatch=True), min_size=3, max_size=4),
    st.sampled_from([" ", "-", "."]),
).filter(lambda phone: sum(c.isdigit() for c in phone) <= 15)  # E.164: at most 15 digits


@given(before=_words, after=_words, local=_local, domain=_domain)
def test_no_email_address_survives(before: str, after: str, local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    redacted = PII.redact(f"{before} {address} {after}")
    assert address not in redacted and "[email]" in redacted


@given(before=_words, after=_words, card=_cards())
def test_no_card_number_survives(before: str, after: str, card: str) -> None:
    redacted = PII.redact(f"{before} {card} {after}")
    assert card not in redacted and "[card]" in redacted


@given(before=_words, after=_words, phone=_phones)
def test_no_international_phone_number_survives(before: str, after: str, phone: str) -> None:
    redacted = PII.redact(f"{before} {phone} {after}")
    assert phone not in redacted and "[phone]" in redacted


@given(st.text(max_size=200))
def test_redaction_never_fails_and_is_idempotent(text: str) -> None:
    once = ALL.redact(text)
    assert ALL.redact(once) == once


@given(_words)
def test_text_without_digits_or_at_signs_is_unchanged(text: str) -> None:
    assert ALL.redact(text) == text


# ── by key, and through structures ─────────────────────────────────────────


def test_user_text_keys_are_dropped_unless_debugging_and_secrets_always() -> None:
    event = {
        "event": "turn",
        "text": "I am at a@b.io",
        "transcript": "hello",
        "resume_token": "tok",
        "Authorization": "Bearer sk",
        "persona": "default",
        "nested": {"prompt": "system", "list": ["call +44 20 7946 0958"]},
        "empty": None,
        "count": 3,
    }
    info = log_processor(PII, keep_text=False)(None, "info", dict(event))
    debug = log_processor(PII, keep_text=True)(None, "debug", dict(event))

    assert info == {
        "event": "turn",
        "text": REDACTED,
        "transcript": REDACTED,
        "resume_token": REDACTED,
        "Authorization": REDACTED,
        "persona": "default",
        "nested": {"prompt": REDACTED, "list": ["call [phone]"]},
        "empty": None,
        "count": 3,
    }
    assert debug["text"] == "I am at [email]", "debug keeps text, still without PII"
    assert debug["transcript"] == "hello"
    assert debug["resume_token"] == REDACTED


def test_deep_structures_are_cut_off() -> None:
    deep: Any = "a@b.io"
    for _ in range(30):
        deep = [deep]
    scrubbed = PII.scrub(deep)
    for _ in range(21):
        scrubbed = scrubbed[0]
    assert scrubbed == REDACTED


def test_tuples_stay_tuples_and_timestamps_are_not_touched() -> None:
    assert PII.scrub({"timestamp": "2026-11-03 10:00:00", "t": ("a@b.io",)}) == {
        "timestamp": "2026-11-03 10:00:00",
        "t": ("[email]",),
    }


# ── the configured pipeline ────────────────────────────────────────────────


def _last_json_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    return line


def test_a_log_line_through_the_configured_pipeline_is_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(ObservabilitySettings(log_level="info", log_json=True))
    with structlog.contextvars.bound_contextvars(session_id="sess_x"):
        structlog.get_logger("t").warning(
            "lookup_failed",
            text="my card 4111 1111 1111 1111",
            detail="customer jane@example.com called from +1 (415) 555-0100",
            peer="203.0.113.9",
        )
    line = _last_json_line(capsys)

    assert line["session_id"] == "sess_x"
    assert line["text"] == REDACTED
    assert line["detail"] == "customer [email] called from [phone]"
    assert line["peer"] == "203.0.113.9", "IP addresses are kept by default"


def test_ip_addresses_are_redacted_in_the_pipeline_when_configured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(
        ObservabilitySettings(log_level="info", log_json=True),
        PrivacySettings(redact_ip_addresses=True),
    )
    structlog.get_logger("t").info("upgrade_refused", ip="203.0.113.9")

    assert _last_json_line(capsys)["ip"] == "[ip]"


def test_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(ObservabilitySettings(log_level="info", log_json=True))
    try:
        raise ValueError("could not parse 'reach me at jane@example.com'")
    except ValueError:
        structlog.get_logger("t").exception("message_failed")
    line = _last_json_line(capsys)

    assert "jane@example.com" not in line["exception"]
    assert "[email]" in line["exception"] and "ValueError" in line["exception"]


def test_standard_library_log_records_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(ObservabilitySettings(log_level="info", log_json=True))
    logging.getLogger("some.library").warning("mail %s failed", "jane@example.com")

    err = capsys.readouterr().err
    assert "mail [email] failed" in err and "jane@example.com" not in err


def test_the_filter_replaces_an_earlier_one_on_reconfiguration() -> None:
    handler = logging.StreamHandler()
    logging.getLogger("uvicorn.test").addHandler(handler)
    try:
        RedactingFilter(PII).install("uvicorn.test")
        RedactingFilter(ALL).install("uvicorn.test")
        assert len([f for f in handler.filters if isinstance(f, RedactingFilter)]) == 1
    finally:
        logging.getLogger("uvicorn.test").removeHandler(handler)


# ── Sentry ─────────────────────────────────────────────────────────────────


def test_sentry_events_lose_locals_bodies_queries_and_personal_data() -> None:
    event: dict[str, Any] = {
        "message": "failed for jane@example.com",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "card 4111111111111111",
                    "stacktrace": {
                        "frames": [{"function": "on_text", "vars": {"user_text": "secret"}}]
                    },
                }
            ]
        },
        "request": {
            "url": "https://avatar.example/v1/realtime?token=v1.abc.def",
            "query_string": "token=v1.abc.def",
            "data": {"message": "preview text"},
            "cookies": {"s": "1"},
            "headers": {"Authorization": "Bearer sk-1", "User-Agent": "x"},
        },
        "breadcrumbs": {"values": [{"message": "call +44 20 7946 0958"}]},
        "extra": {"text": "what the user said"},
    }

    sent = sentry_before_send(PII)(event, {})

    assert sent["message"] == "failed for [email]"
    exc = sent["exception"]["values"][0]
    assert exc["value"] == "card [card]"
    assert exc["stacktrace"]["frames"] == [{"function": "on_text"}]
    assert sent["request"] == {
        "url": "https://avatar.example/v1/realtime",
        "headers": {"Authorization": REDACTED, "User-Agent": "x"},
    }
    assert sent["breadcrumbs"]["values"][0]["message"] == "call [phone]"
    assert sent["extra"]["text"] == REDACTED
