"""server/rate_limit.py: the token bucket, driven with explicit times."""

from __future__ import annotations

import pytest

from server.rate_limit import TokenBucket


def _drain(bucket: TokenBucket, now: float) -> int:
    """Take tokens at ``now`` until refused; return how many were granted."""
    granted = 0
    while bucket.allow(now):
        granted += 1
        assert granted < 10_000
    return granted


@pytest.mark.parametrize("burst", [1, 3, 20])
def test_full_burst_is_allowed_then_the_next_message_is_refused(burst: int) -> None:
    bucket = TokenBucket(rate=5.0, burst=burst, now=100.0)

    assert [bucket.allow(100.0) for _ in range(burst)] == [True] * burst
    assert bucket.allow(100.0) is False


def test_refusal_does_not_consume_anything() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.allow(0.0)

    assert [bucket.allow(0.5) for _ in range(5)] == [False] * 5
    assert bucket.allow(1.0) is True


def test_tokens_refill_at_the_configured_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=4, now=0.0)
    assert _drain(bucket, 0.0) == 4

    assert bucket.allow(0.25) is False  # half a token
    assert bucket.allow(0.5) is True  # one token by now
    assert bucket.allow(0.5) is False
    assert _drain(bucket, 1.5) == 2


def test_fractional_tokens_accumulate_across_calls() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.allow(0.0)

    assert bucket.allow(0.4) is False
    assert bucket.allow(0.8) is False
    assert bucket.allow(1.0) is True


def test_long_idle_does_not_refill_beyond_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=3, now=0.0)
    assert _drain(bucket, 0.0) == 3

    assert _drain(bucket, 3600.0) == 3


def test_new_bucket_starts_full_but_not_above_burst() -> None:
    bucket = TokenBucket(rate=100.0, burst=2, now=50.0)

    assert _drain(bucket, 60.0) == 2


def test_time_going_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, burst=2, now=10.0)
    assert _drain(bucket, 10.0) == 2

    assert bucket.allow(5.0) is False
    assert bucket.allow(0.0) is False


def test_time_going_backwards_then_forwards_again_adds_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, burst=2, now=10.0)
    assert _drain(bucket, 10.0) == 2
    assert bucket.allow(5.0) is False

    # No time has passed beyond t=10 where the bucket was emptied.
    assert bucket.allow(10.0) is False


def test_zero_rate_never_refills() -> None:
    bucket = TokenBucket(rate=0.0, burst=1, now=0.0)
    assert bucket.allow(0.0)

    assert bucket.allow(1e9) is False
