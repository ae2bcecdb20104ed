"""server/origins.py: which browser origins may open a socket."""

from __future__ import annotations

import pytest

from server.origins import check_origin, normalize_origin, origin_allowed

LISTED = ["https://support.example.com", "http://localhost:5173/"]


@pytest.mark.parametrize("allowed", [[], LISTED, ["*"]])
def test_client_without_origin_header_is_allowed(allowed: list[str]) -> None:
    assert origin_allowed(None, "api.example.com", allowed)
    assert origin_allowed(None, None, allowed)


@pytest.mark.parametrize(
    "origin", ["https://evil.example.net", "null", "chrome-extension://abc", "ftp://x"]
)
def test_star_allows_every_origin(origin: str) -> None:
    assert origin_allowed(origin, "api.example.com", ["https://a.example", "*"])


@pytest.mark.parametrize(
    "origin",
    [
        "https://support.example.com",
        "https://SUPPORT.Example.COM",
        "https://support.example.com/",
        "http://localhost:5173",
        "HTTP://LOCALHOST:5173/",
    ],
)
def test_listed_origin_matches_ignoring_case_and_trailing_slash(origin: str) -> None:
    assert origin_allowed(origin, "api.example.com", LISTED)


def test_listed_origin_entry_is_compared_ignoring_its_own_case() -> None:
    assert origin_allowed("https://app.example.com", None, ["HTTPS://App.Example.com/"])


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://api.example.com", "api.example.com"),
        ("http://api.example.com", "api.example.com"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("https://API.example.com", "api.EXAMPLE.com"),
        ("https://api.example.com/", "api.example.com"),
    ],
)
def test_same_origin_page_is_allowed_through_the_host_header(origin: str, host: str) -> None:
    assert origin_allowed(origin, host, [])


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://evil.example.net", "api.example.com"),
        ("https://support.example.com.evil.net", "api.example.com"),
        ("https://api.example.com:8443", "api.example.com"),
        ("http://127.0.0.1:9000", "127.0.0.1:8000"),
        ("https://support.example.com:444", "api.example.com"),
    ],
)
def test_foreign_origin_is_refused(origin: str, host: str) -> None:
    assert not origin_allowed(origin, host, LISTED)


@pytest.mark.parametrize("host", [None, ""])
def test_origin_is_refused_without_host_header_unless_listed(host: str | None) -> None:
    assert not origin_allowed("https://api.example.com", host, [])
    assert origin_allowed("https://support.example.com", host, LISTED)


@pytest.mark.parametrize(
    "origin",
    ["ws://api.example.com", "file://api.example.com", "chrome-extension://api.example.com"],
)
def test_same_host_with_non_http_scheme_is_refused(origin: str) -> None:
    assert not origin_allowed(origin, "api.example.com", [])


def test_opaque_null_origin_is_refused() -> None:
    assert not origin_allowed("null", "api.example.com", LISTED)


def test_origins_are_normalised_to_lower_case_without_trailing_slash() -> None:
    assert normalize_origin(" HTTPS://App.Example.com/ ") == "https://app.example.com"


@pytest.mark.parametrize(
    ("origin", "normalized"),
    [
        ("https://support.example.com", "https://support.example.com"),
        ("HTTP://LOCALHOST:5173/", "http://localhost:5173"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_a_configured_origin_is_checked_and_normalised(origin: str, normalized: str) -> None:
    assert check_origin(origin) == normalized


@pytest.mark.parametrize(
    "origin",
    [
        "support.example.com",
        "*",
        "null",
        "ftp://example.com",
        "https://",
        "https://example.com/path",
        "https://example.com?x=1",
        "https://example.com#top",
        "https://user@example.com",
        "https://example.com:http",
        "https://example.com:70000",
        "http://[::1",
    ],
)
def test_anything_but_scheme_host_and_port_is_not_an_origin(origin: str) -> None:
    with pytest.raises(ValueError, match=r"origin|port"):
        check_origin(origin)
