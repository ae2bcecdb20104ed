"""The waterfall benchmark's arithmetic (benchmarks/waterfall.py): steps, slowest step, sweep."""

from __future__ import annotations

from typing import Any

from benchmarks.waterfall import Turn, summarise, sweep_verdict


def turn(user: int, offsets: list[float], error: str | None = None) -> Turn:
    keys = ["vad_end", "asr_final", "end_of_turn", "llm_first_token", "first_audio", "play_start"]
    return Turn(user, 0, "q.wav", dict(zip(keys, offsets, strict=True)), error=error)


def test_steps_are_differences_per_turn_and_the_slowest_is_named() -> None:
    turns = [
        turn(0, [300, 800, 801, 950, 1400, 1450]),
        turn(0, [280, 700, 702, 900, 1300, 1340]),
        turn(1, [0, 0, 0, 0, 0, 0], error="no reply within 120 s"),
    ]
    result = summarise(turns, users=2)
    assert (result["turns"], result["turns_ok"], result["turns_failed"]) == (3, 2, 1)
    assert result["errors"] == ["no reply within 120 s"]
    assert result["steps"]["asr_final"]["p50_ms"] == 420.0  # 500 and 420: the lower middle
    assert result["steps"]["first_audio"]["n"] == 2
    assert result["slowest_step"] == "asr_final"
    assert result["voice_to_voice"] == result["stages"]["play_start"]


def _scenario(users: int, p95: float, failed: int = 0) -> dict[str, Any]:
    return {
        "users": users,
        "turns_ok": 3,
        "turns_failed": failed,
        "voice_to_voice": {"p50_ms": p95 / 2, "p95_ms": p95},
    }


def test_the_sweep_keeps_the_largest_count_before_the_first_miss() -> None:
    results = [_scenario(1, 900), _scenario(2, 1800), _scenario(3, 2600), _scenario(4, 2400)]
    verdict = sweep_verdict(results, 2500)
    assert verdict["max_users_within_budget"] == 2
    assert verdict["p95_by_users"] == {1: 900, 2: 1800, 3: 2600, 4: 2400}


def test_failed_turns_disqualify_a_count() -> None:
    verdict = sweep_verdict([_scenario(1, 900, failed=1), _scenario(2, 1000)], 2500)
    assert verdict["max_users_within_budget"] == 0
