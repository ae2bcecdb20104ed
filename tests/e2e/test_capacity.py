"""One process holds many idle, heartbeating sessions while several talkers converse: the
CI-sized version of benchmarks/capacity.py (docs/capacity.md has the full-sized figures)."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from benchmarks.capacity import (
    ONE_ADDRESS,
    TEXT_MODE,
    IdleStats,
    ProcessProbe,
    open_idle,
    talker,
)
from benchmarks.common import summary_ms
from tests.e2e.conftest import StartServer

pytestmark = pytest.mark.model

IDLE = 200
TALKERS = 8
TURNS = 2
HEARTBEAT_S = 2.0
IDLE_TIMEOUT_S = 6.0
"""Short, so that an idle session whose heartbeats went unanswered would be closed during
the test (4408) instead of passing unnoticed."""


async def _gauge(http: str, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{http}/metrics")).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


@pytest.mark.timeout(180)
async def test_two_hundred_idle_sessions_stay_while_eight_talkers_get_every_reply(
    start_server: StartServer,
) -> None:
    server = start_server(
        "capacity",
        **TEXT_MODE,
        **ONE_ADDRESS,
        AVATAR_CONNECTION__HEARTBEAT_INTERVAL_S=str(HEARTBEAT_S),
        AVATAR_CONNECTION__IDLE_TIMEOUT_S=str(IDLE_TIMEOUT_S),
        AVATAR_LLM__MAX_TOKENS="60",
    )
    probe = ProcessProbe(server.proc.pid)
    rss_before = probe.memory_mb()["rss_mb"]
    stats = IdleStats()
    opened = time.monotonic()
    idle = await open_idle(server.url, IDLE, stats)
    assert await _gauge(server.http, "avatar_active_sessions") >= IDLE

    results = await asyncio.gather(*(talker(server.url, TURNS, 3 * i, 60) for i in range(TALKERS)))
    if (rest := 2 * IDLE_TIMEOUT_S - (time.monotonic() - opened)) > 0:
        await asyncio.sleep(rest)  # idle for two idle timeouts at least: only heartbeats hold
    answered = await asyncio.gather(*(s.answers_ping(15) for s in idle))

    ttft = summary_ms([t for r in results for t in r.ttft_s])
    rtt = summary_ms(list(stats.ping_rtt_s))
    rss_after = probe.memory_mb()["rss_mb"]
    print(
        f"{IDLE} idle + {TALKERS} talkers: TTFT p50 {ttft['p50_ms']} ms, p95 {ttft['p95_ms']} ms;"
        f" {rtt['n']} pings, p95 {rtt['p95_ms']} ms; RSS {rss_before} → {rss_after} MB"
    )
    assert not stats.errors, (
        f"idle sessions got errors {dict(stats.errors)} (store_unavailable: see "
        "test_a_burst_of_messages_from_many_sessions_is_answered_not_refused)"
    )
    not_completed = [r.not_completed for r in results if r.not_completed]
    assert not not_completed, not_completed
    assert sum(r.completed for r in results) == TALKERS * TURNS
    assert ttft["n"] == TALKERS * TURNS
    assert [s.closed_code for s in idle if s.dropped] == [], "no idle session was dropped"
    assert all(answered), f"{answered.count(False)} idle sessions did not answer a last ping"
    assert rtt["n"] >= 2 * IDLE, "every idle session heartbeated"
    for chunk in range(0, IDLE, 50):
        await asyncio.gather(*(s.close() for s in idle[chunk : chunk + 50]))


@pytest.mark.timeout(120)
async def test_a_burst_of_messages_from_many_sessions_is_answered_not_refused(
    start_server: StartServer,
) -> None:
    server = start_server("burst", **TEXT_MODE, **ONE_ADDRESS)
    stats = IdleStats()
    sessions = await open_idle(server.url, 300, stats)
    answered = await asyncio.gather(*(s.answers_ping(15) for s in sessions))
    for chunk in range(0, len(sessions), 50):
        await asyncio.gather(*(s.close() for s in sessions[chunk : chunk + 50]))
    assert not stats.errors, dict(stats.errors)  # store_unavailable
    assert all(answered)
