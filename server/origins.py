"""Which browser origins may open a socket (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def normalize_origin(origin: str) -> str:
    """The form origins are compared in: surrounding blanks and a trailing ``/`` dropped, lower
    case (``HTTPS://App.Example.com/`` → ``https://app.example.com``)."""
    return origin.strip().rstrip("/").lower()


def check_origin(origin: str) -> str:
    """``origin`` normalised, if it is a web origin (``http(s)://host[:port]``, nothing after
    the port); raises ``ValueError`` saying what is wrong otherwise. For configured origins."""
    normalized = normalize_origin(origin)
    example = "write scheme://host[:port], e.g. https://support.example.com"
    try:
        parts = urlsplit(normalized)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(f"{origin!r} is not an origin (bad host or port): {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin: {example}")
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{origin!r} is not an origin: drop everything but scheme://host[:port]")
    return normalized


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """True for non-browser clients (no Origin), same-origin pages, and listed origins.

    ``host`` is the request's Host header; ``allowed`` holds origins such as
    ``https://support.example.com``, or ``*`` to allow every origin.
    """
    if origin is None:
        return True
    if "*" in allowed:
        return True
    normalized = normalize_origin(origin)
    if normalized in (normalize_origin(a) for a in allowed):
        return True
    parts = urlsplit(normalized)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == (host or "").lower()
