"""server/quotas.py: rates, client addresses, and the GCRA limiter against the real Redis."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest
from redis.asyncio import Redis

from server.quotas import (
    Limit,
    Rate,
    RedisRateLimiter,
    client_ip,
    parse_networks,
    parse_rate,
)
from tests.conftest import REDIS_URL

T0 = 1_800_000_000_000  # ms


@pytest.fixture
def limiter(redis_client: Redis, key_prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_client, prefix=key_prefix)


# ── rates ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("120/minute", Rate(120, 60)),
        ("5/s", Rate(5, 1)),
        (" 10 / Second ", Rate(10, 1)),
        ("3/h", Rate(3, 3600)),
        ("1000/hour", Rate(1000, 3600)),
        ("2/m", Rate(2, 60)),
        ("off", Rate(0, 1)),
        ("0", Rate(0, 1)),
    ],
)
def test_rates_are_parsed(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "10", "10/day", "0/minute", "-1/s", "x/s", "1.5/s", "1/ms"])
def test_bad_rates_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="120/minute"):
        parse_rate(text)


def test_rates_print_in_the_form_they_are_written() -> None:
    assert [str(parse_rate(t)) for t in ("120/m", "5/s", "3/h", "off")] == [
        "120/minute",
        "5/second",
        "3/hour",
        "off",
    ]


# ── client addresses ───────────────────────────────────────────────────────

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # left part is the client's
        ("10.1.2.3", "198.51.100.1, 10.9.9.9", "198.51.100.1"),  # two proxies
        ("10.1.2.3", "10.4.4.4, 10.9.9.9", "10.4.4.4"),  # all trusted: the first hop
        ("10.1.2.3", "not-an-ip", "10.1.2.3"),
        ("10.1.2.3", "", "10.1.2.3"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        (None, "198.51.100.1", None),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str | None, xff: str | None, expected: str | None
) -> None:
    assert client_ip(peer, xff, PROXIES) == expected


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip("127.0.0.1", "198.51.100.1", []) == "127.0.0.1"


def test_proxy_entries_must_be_addresses_or_ranges() -> None:
    assert parse_networks(["10.0.0.0/8"]) == [ipaddress.ip_network("10.0.0.0/8")]
    with pytest.raises(ValueError, match=r"'proxy\.local'"):
        parse_networks(["proxy.local"])


# ── the limiter ────────────────────────────────────────────────────────────


async def test_a_burst_passes_then_requests_are_refused_with_the_wait(
    limiter: RedisRateLimiter,
) -> None:
    limit = Limit("upgrade_ip", "203.0.113.9", Rate(3, 60))  # one every 20 s, bursts of 3

    results = [await limiter.check([limit], now_ms=T0) for _ in range(4)]

    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[3].retry_after_ms == 20_000 and results[3].retry_after_s == 20
    assert results[3].limit == "upgrade_ip"


async def test_allowance_comes_back_at_the_rate(limiter: RedisRateLimiter) -> None:
    limit = Limit("t", "ip", Rate(2, 1))  # one every 500 ms
    for _ in range(2):
        assert (await limiter.check([limit], now_ms=T0)).allowed

    assert not (await limiter.check([limit], now_ms=T0 + 499)).allowed
    assert (await limiter.check([limit], now_ms=T0 + 500)).allowed
    assert not (await limiter.check([limit], now_ms=T0 + 500)).allowed
    assert (await limiter.check([limit], now_ms=T0 + 5_000)).allowed


async def test_subjects_and_limit_names_are_counted_apart(limiter: RedisRateLimiter) -> None:
    rate = Rate(1, 60)
    assert (await limiter.check([Limit("a", "x", rate)], now_ms=T0)).allowed
    assert (await limiter.check([Limit("a", "y", rate)], now_ms=T0)).allowed
    assert (await limiter.check([Limit("b", "x", rate)], now_ms=T0)).allowed
    assert not (await limiter.check([Limit("a", "x", rate)], now_ms=T0)).allowed


async def test_a_request_refused_by_one_limit_consumes_from_none(
    limiter: RedisRateLimiter,
) -> None:
    ip, key = Limit("ip", "1.2.3.4", Rate(5, 60)), Limit("key", "shop", Rate(1, 60))
    assert (await limiter.check([ip, key], now_ms=T0)).allowed

    refused = await limiter.check([ip, key], now_ms=T0)

    assert not refused.allowed and refused.limit == "key"
    for _ in range(4):  # the IP limit still has its four left
        assert (await limiter.check([ip], now_ms=T0)).allowed
    assert not (await limiter.check([ip], now_ms=T0)).allowed


async def test_unlimited_rates_are_not_checked(
    limiter: RedisRateLimiter, redis_client: Redis
) -> None:
    decision = await limiter.check([Limit("x", "y", Rate(0, 1))], now_ms=T0)

    assert decision.allowed
    assert await redis_client.exists(limiter.key(Limit("x", "y", Rate(0, 1)))) == 0


async def test_keys_expire_once_the_burst_is_back(
    limiter: RedisRateLimiter, redis_client: Redis, key_prefix: str
) -> None:
    limit = Limit("t", "ip", Rate(10, 60))  # 6 s per request
    await limiter.check([limit])
    await limiter.check([limit])

    key = limiter.key(limit)
    assert key.startswith(f"{key_prefix}rl:t:")
    assert 6_000 < await redis_client.pttl(key) <= 12_000


async def test_long_or_odd_subjects_are_hashed_into_bounded_keys(
    limiter: RedisRateLimiter,
) -> None:
    long_key = limiter.key(Limit("t", "x" * 500, Rate(1, 1)))
    odd_key = limiter.key(Limit("t", "a\nb", Rate(1, 1)))

    assert len(long_key) < 100 and ":h:" in long_key and ":h:" in odd_key
    assert limiter.key(Limit("t", "2001:db8::1", Rate(1, 1))).endswith(":2001:db8::1")


async def test_redis_time_is_used_when_no_time_is_given(limiter: RedisRateLimiter) -> None:
    limit = Limit("t", "ip", Rate(1, 1))
    assert (await limiter.check([limit])).allowed
    refused = await limiter.check([limit])
    assert not refused.allowed and 0 < refused.retry_after_ms <= 1000


async def test_concurrent_requests_never_exceed_the_burst(limiter: RedisRateLimiter) -> None:
    limit = Limit("t", "ip", Rate(25, 3600))

    results = await asyncio.gather(*(limiter.check([limit], now_ms=T0) for _ in range(100)))

    assert sum(r.allowed for r in results) == 25


async def test_two_processes_share_one_limit(key_prefix: str, redis_client: Redis) -> None:
    """Two limiters on two connections (as two server processes have) count together."""
    other = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        one = RedisRateLimiter(redis_client, prefix=key_prefix)
        two = RedisRateLimiter(other, prefix=key_prefix)
        limit = Limit("upgrade_ip", "198.51.100.7", Rate(4, 60))

        allowed = [
            (await (one if i % 2 else two).check([limit], now_ms=T0)).allowed for i in range(6)
        ]

        assert allowed == [True, True, True, True, False, False]
    finally:
        await other.aclose()


async def test_one_check_is_one_quick_round_trip(
    limiter: RedisRateLimiter,
) -> None:
    """The overhead a limited request pays: one round trip to a local Redis."""
    limits = [Limit("a", "203.0.113.9", Rate(10**6, 1)), Limit("b", "k", Rate(10**6, 1))]
    await limiter.check(limits)
    samples = []
    for _ in range(300):
        started = time.perf_counter()
        await limiter.check(limits)
        samples.append(time.perf_counter() - started)
    samples.sort()
    p50 = samples[len(samples) // 2]
    assert p50 < 0.005, f"p50 {p50 * 1000:.2f} ms"
