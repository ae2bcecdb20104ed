"""Which browser origins may open a socket (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """True for non-browser clients (no Origin), same-origin pages, and listed origins.

    ``host`` is the request's Host header; ``allowed`` holds origins such as
    ``https://support.example.com``, or ``*`` to allow every origin.
    """
    if origin is None:
        return True
    if "*" in allowed:
        return True
    normalized = origin.rstrip("/").lower()
    if normalized in (a.rstrip("/").lower() for a in allowed):
        return True
    parts = urlsplit(normalized)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == (host or "").lower()
