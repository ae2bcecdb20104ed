"""Personal data kept out of logs and error reports (pure).

Two layers, both applied to every log line (server/observability.py) and every Sentry event:

- **By key.** Fields that carry what people said (``text``, ``transcript``, ``prompt``, ...)
  are replaced by ``[redacted]`` unless the log level is debug; fields that carry credentials
  (``resume_token``, ``api_key``, ``authorization``, ...) are replaced always. Code that must log
  user text puts it under one of these keys, never in the event name (docs/security.md).
- **By value.** In every other string: e-mail addresses → ``[email]``, card numbers (13 to 19
  digits, an issuer's first digit, a valid Luhn check digit) → ``[card]``, phone numbers
  (international ``+...``, North American and European trunk-prefix forms, 7 to 15 digits) →
  ``[phone]``, and optionally IPv4/IPv6 addresses → ``[ip]``.

Value patterns are heuristics tuned to leave timestamps, ids, versions and durations alone; the
key rule is the guarantee. Every pattern starts only at a boundary (a look-behind), so a long
string costs linear time.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

REDACTED = "[redacted]"

TEXT_KEYS = frozenset(
    {"text", "prompt", "transcript", "query", "history", "system_prompt", "user_text", "input"}
)
"""Keys holding what users said or what the model was told: dropped unless debugging."""
SECRET_KEYS = frozenset(
    {
        "resume_token",
        "token",
        "api_key",
        "authorization",
        "cookie",
        "password",
        "secret",
        "sentry_dsn",
    }
)
"""Keys holding credentials: dropped always."""
_SKIPPED = frozenset({"timestamp", "level", "logger"})

_EMAIL = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@(?:[\w\-]+\.)+[^\W\d_]{2,}(?![\w\-])")
_CARD = re.compile(r"(?<![\d+])\d(?:[ \-]?\d){12,18}(?![\d])")
_PHONE = re.compile(
    r"(?<![\w+])\+\d[\d ().\-]{5,22}\d(?![\d])"  # +44 20 7946 0958, +1 (415) 555-0100
    r"|(?<![\w(])\(?\d{3}\)?[ .\-]?\d{3}[ .\-]\d{4}(?![\w])"  # (415) 555-0100, 415.555.0100
    r"|(?<![\w])0\d{1,4}(?:[ \-]?\d{2,4}){2,4}(?![\w])"  # 020 7946 0958, 06 12 34 56 78
)
_NUMBER = re.compile(f"(?P<card>{_CARD.pattern})|{_PHONE.pattern}")
"""Cards and phones in one pass: the left-most candidate wins, so a phone number is never
taken for a card that starts inside it, nor the other way round."""
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits ends in a valid Luhn check digit."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _number(match: re.Match[str]) -> str:
    text = match.group()
    digits = _digits(text)
    if match.group("card") is None:
        return "[phone]" if 7 <= len(digits) <= 15 else text
    if digits[0] in "23456" and luhn_valid(digits):
        return "[card]"
    return _PHONE.sub(_phone, text)  # not a card; it may still hold a phone number


def _phone(match: re.Match[str]) -> str:
    return "[phone]" if 7 <= len(_digits(match.group())) <= 15 else match.group()


def _ip(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return match.group()
    return "[ip]"


class Redactor:
    """Replaces personal data in strings, and in whatever structure holds them."""

    def __init__(self, *, pii: bool = True, ip_addresses: bool = False) -> None:
        self.pii = pii
        self.ip_addresses = ip_addresses

    def redact(self, text: str) -> str:
        """``text`` with every match replaced (order: e-mail, card, phone, IP)."""
        if self.pii:
            if "@" in text:
                text = _EMAIL.sub("[email]", text)
            if any(c.isdigit() for c in text):
                text = _NUMBER.sub(_number, text)
        if self.ip_addresses:
            if "." in text:
                text = _IPV4.sub(_ip, text)
            if ":" in text:
                text = _IPV6.sub(_ip, text)
        return text

    def scrub(self, value: Any, *, keep_text: bool = False, _depth: int = 0) -> Any:
        """A copy of ``value`` with strings redacted and sensitive keys replaced, through
        dicts, lists and tuples (20 levels deep; deeper is replaced whole)."""
        if isinstance(value, str):
            return self.redact(value)
        if _depth > 20:
            return REDACTED
        if isinstance(value, Mapping):
            return {
                key: self.scrub_field(key, item, keep_text=keep_text, depth=_depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            items = [self.scrub(v, keep_text=keep_text, _depth=_depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        return value

    def scrub_field(self, key: object, value: Any, *, keep_text: bool, depth: int = 0) -> Any:
        """``value`` as it may be shown under ``key``."""
        name = key.lower() if isinstance(key, str) else None
        if name in SECRET_KEYS or (name in TEXT_KEYS and not keep_text):
            return REDACTED if value is not None else None
        if name in _SKIPPED:
            return value
        return self.scrub(value, keep_text=keep_text, _depth=depth)


Processor = Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]


def log_processor(redactor: Redactor, *, keep_text: bool) -> Processor:
    """A structlog processor: sensitive keys replaced, personal data redacted in every value.
    Place it after ``format_exc_info`` so tracebacks are redacted too."""

    def redact_event(
        _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = redactor.scrub_field(key, event_dict[key], keep_text=keep_text)
        return event_dict

    return redact_event


def sentry_before_send(redactor: Redactor) -> Callable[[Any, Any], Any]:
    """A Sentry ``before_send``/``before_send_transaction`` hook: local variables, request
    bodies, cookies, query strings (tokens travel there) and auth headers are dropped, and
    every remaining string is redacted. User text is never kept (it is not debug output)."""

    def before_send(event: Any, hint: Any) -> Any:
        if not isinstance(event, dict):
            return event
        request = event.get("request")
        if isinstance(request, dict):
            for key in ("data", "cookies", "query_string"):
                request.pop(key, None)
            if isinstance(request.get("url"), str):
                request["url"] = request["url"].split("?", 1)[0]
            headers = request.get("headers")
            if isinstance(headers, dict):
                for name in list(headers):
                    if str(name).lower() in ("authorization", "cookie", "x-forwarded-for"):
                        headers[name] = REDACTED
        for frame in _frames(event):
            frame.pop("vars", None)
        scrubbed: Any = redactor.scrub(event)
        return scrubbed

    return before_send


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stack frame of an event's exceptions and threads."""
    frames: list[dict[str, Any]] = []
    for section in ("exception", "threads"):
        container = event.get(section)
        values = container.get("values") if isinstance(container, dict) else None
        for entry in values if isinstance(values, list) else []:
            stack = entry.get("stacktrace") if isinstance(entry, dict) else None
            found = stack.get("frames") if isinstance(stack, dict) else None
            frames += [f for f in (found if isinstance(found, list) else []) if isinstance(f, dict)]
    return frames


class RedactingFilter(logging.Filter):
    """For standard-library log handlers (uvicorn, libraries): the formatted message and
    traceback of every record are redacted before a formatter sees them."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor.redact(record.exc_text)
        return True

    def install(self, *logger_names: str) -> None:
        """Put this filter on every handler of the root logger and of ``logger_names``, in
        place of one installed before."""
        for name in ("", *logger_names):
            for handler in logging.getLogger(name or None).handlers:
                for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                    handler.removeFilter(old)
                handler.addFilter(self)
