"""Rate limits shared by every server process: GCRA in Redis, one atomic Lua script.

A limit is ``count`` requests per ``period`` (``"120/minute"``), with bursts of up to ``count``
(the generic cell rate algorithm: each subject has a "theoretical arrival time" in Redis, pushed
forward by ``period / count`` per request and refused while it is more than ``period`` ahead of
now). One call checks several limits at once (per client IP and per key) and consumes from all
of them only when every one allows it, so a refused request costs nothing. Time is Redis's own
clock (``TIME``), so processes with skewed clocks share one schedule; tests may pass the time.

Keys: ``{prefix}rl:{name}:{subject}`` STRING (the arrival time in ms), expiring when the subject
is back to a full burst. Also here: ``client_ip``, which honours ``X-Forwarded-For`` only when
the direct peer is a trusted proxy. Nothing here reads settings.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

_PERIODS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*([a-z]+)\s*$")
_SUBJECT_MAX = 128
"""Longer subjects (IPv6 text, key names) are hashed, so key sizes stay bounded."""

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``period_s`` seconds, bursts of up to ``count``; 0 is no limit."""

    count: int
    period_s: int

    @property
    def unlimited(self) -> bool:
        return self.count == 0

    @property
    def interval_ms(self) -> float:
        """Time one request's allowance takes to come back."""
        return self.period_s * 1000 / self.count

    def __str__(self) -> str:
        if self.unlimited:
            return "off"
        unit = {1: "second", 60: "minute", 3600: "hour"}[self.period_s]
        return f"{self.count}/{unit}"


def parse_rate(text: str) -> Rate:
    """``"120/minute"`` (also ``s``/``second``, ``m``, ``h``/``hour``), or ``"off"`` / ``"0"``
    for no limit; raises ``ValueError`` saying what is expected."""
    if text.strip().lower() in ("off", "0", "none"):
        return Rate(0, 1)
    match = _RATE.match(text.lower())
    if match is None or match.group(2) not in _PERIODS or int(match.group(1)) == 0:
        raise ValueError(
            f"{text!r} is not a rate: write COUNT/PERIOD with PERIOD second, minute or hour "
            "(e.g. 120/minute), or off"
        )
    return Rate(int(match.group(1)), _PERIODS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit to check: ``name`` (what is limited, e.g. ``upgrade_ip``), the ``subject``
    (an IP address, a key name) and its rate."""

    name: str
    subject: str
    rate: Rate


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_ms: int
    """When refused: how long until the request would be allowed; 0 when allowed."""
    limit: str | None
    """When refused: the name of the (first) limit that refused it."""

    @property
    def retry_after_s(self) -> int:
        """For ``Retry-After``: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after_ms / 1000))


ALLOWED = Decision(True, 0, None)

# KEYS: one per limit. ARGV[1]: now in ms, or '' for Redis's clock; then per limit its
# interval in ms and its burst. Returns {1, 0, 0} when allowed, else {0, retry_ms, index}.
_GCRA = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local wait = new_tat - now - burst * interval
  if wait > 0 then return {0, math.ceil(wait), i} end
  tats[i] = new_tat
end
for i, key in ipairs(KEYS) do
  local ttl = math.max(1, math.ceil(tats[i] - now))
  redis.call('SET', key, string.format('%.3f', tats[i]), 'PX', ttl)
end
return {1, 0, 0}
"""


class RedisRateLimiter:
    """Checks and consumes rate limits in Redis. Safe to share between tasks."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._prefix = prefix
        self._script = redis.register_script(_GCRA)

    def key(self, limit: Limit) -> str:
        subject = limit.subject
        if len(subject) > _SUBJECT_MAX or not subject.isprintable():
            subject = "h:" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._prefix}rl:{limit.name}:{subject}"

    async def check(self, limits: Sequence[Limit], *, now_ms: int | None = None) -> Decision:
        """Allow one request under every limit in ``limits`` (consuming from each), or refuse
        it (consuming nothing). Unlimited rates are skipped. Raises ``RedisError``."""
        active = [limit for limit in limits if not limit.rate.unlimited]
        if not active:
            return ALLOWED
        args: list[str | int | float] = ["" if now_ms is None else now_ms]
        for limit in active:
            args += [limit.rate.interval_ms, limit.rate.count]
        allowed, retry_ms, index = await self._script(
            keys=[self.key(limit) for limit in active], args=args
        )
        if allowed:
            return ALLOWED
        return Decision(False, int(retry_ms), active[int(index) - 1].name)


# ── the client's address ─────────────────────────────────────────────────────


def parse_networks(entries: Sequence[str]) -> list[IPNetwork]:
    """IP addresses or CIDR ranges (``10.0.0.0/8``); raises ``ValueError`` naming a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
    return networks


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]
) -> str | None:
    """The client's IP address: the direct peer, unless the peer is a trusted proxy; then the
    right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy (each proxy
    appends the address it saw, so addresses left of the first untrusted one are whatever the
    client wrote and are ignored). None when the peer is unknown."""
    if peer is None or not _trusted(peer, trusted) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if not _is_ip(hop):
            return peer  # a garbled header: fall back to the proxy itself
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
