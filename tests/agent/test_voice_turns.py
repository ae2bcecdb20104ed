"""Voice turn-taking on the audio clock: end of turn, extension, barge-in, echo guard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.voice_turns import (
    BargeIn,
    Phase,
    TurnConfig,
    TurnEnded,
    TurnExtended,
    TurnStarted,
    VoiceTurnPolicy,
    silence_needed_ms,
)

CFG = TurnConfig(silence_ms=500, min_silence_ms=250, max_silence_ms=1500, echo_guard_ms=300)


def _ticks(policy: VoiceTurnPolicy, start: int, end: int) -> list[object]:
    return [d for t in range(start, end + 1, 32) if (d := policy.tick(t)) is not None]


@pytest.mark.parametrize(
    ("partial", "wait"),
    [
        ("What time does the store open on Sunday?", 300),
        ("Thank you!", 300),
        ("I would like to change.", 500),
        ("I would like to", 900),
        ("I want a refund and", 900),
        ("so, um", 900),
        ("", 900),
        ("Let me think,", 900),
        ("hello there", 500),
    ],
)
def test_the_pause_that_ends_a_turn_adapts_to_the_words_so_far(partial: str, wait: int) -> None:
    assert silence_needed_ms(partial, CFG) == wait


def test_the_wait_is_clamped() -> None:
    short = TurnConfig(silence_ms=100, min_silence_ms=250)
    long = TurnConfig(silence_ms=1400, max_silence_ms=1500)
    assert silence_needed_ms("Done.", short) == 250
    assert silence_needed_ms("and", long) == 1500


def test_a_turn_starts_with_speech_and_ends_once_after_the_pause() -> None:
    policy = VoiceTurnPolicy(CFG)
    assert policy.speech_started(1000) == TurnStarted(1000)
    policy.partial("hello there")
    assert policy.speech_stopped(2000) is None
    assert policy.tick(2400) is None
    assert policy.tick(2500) == TurnEnded(1000, 2000)
    assert _ticks(policy, 2500, 5000) == []
    assert policy.phase is Phase.AWAITING_REPLY


def test_speech_resuming_within_the_pause_keeps_the_same_turn() -> None:
    policy = VoiceTurnPolicy(CFG)
    policy.speech_started(0)
    policy.speech_stopped(800)
    assert policy.tick(1000) is None
    assert policy.speech_started(1100) is None
    policy.partial("I want two tickets!")
    policy.speech_stopped(2000)
    assert _ticks(policy, 2000, 3000) == [TurnEnded(0, 2000)]


def test_speech_after_the_end_but_before_the_reply_extends_the_turn() -> None:
    policy = VoiceTurnPolicy(CFG)
    policy.speech_started(0)
    policy.partial("hello there")
    policy.speech_stopped(1000)
    assert _ticks(policy, 1000, 1600) == [TurnEnded(0, 1000)]
    assert policy.speech_started(1700) == TurnExtended(0)
    policy.speech_stopped(2500)
    assert _ticks(policy, 2500, 4000) == [TurnEnded(0, 2500)], "the same turn, ended again"


def test_speech_while_the_reply_plays_is_a_barge_in_that_opens_a_new_turn() -> None:
    policy = VoiceTurnPolicy(CFG)
    policy.speech_started(0)
    policy.speech_stopped(1000)
    _ticks(policy, 1000, 3000)
    policy.reply_started(3000)
    assert policy.phase is Phase.AVATAR_SPEAKING
    assert policy.speech_started(3500) == BargeIn(3500)
    assert policy.phase is Phase.USER_SPEAKING
    policy.speech_stopped(4500)
    assert _ticks(policy, 4500, 6000) == [TurnEnded(3500, 4500)]


def test_speech_right_after_the_reply_starts_is_taken_for_its_echo() -> None:
    policy = VoiceTurnPolicy(CFG)
    policy.reply_started(1000)  # e.g. a reply to typed input
    assert policy.speech_started(1200) is None
    assert policy.speech_stopped(1400) is None
    assert policy.phase is Phase.AVATAR_SPEAKING
    assert policy.speech_started(1500) == BargeIn(1500), "after the guard it is the user"


def test_when_the_reply_ends_the_policy_is_idle_again() -> None:
    policy = VoiceTurnPolicy(CFG)
    policy.speech_started(0)
    policy.speech_stopped(500)
    _ticks(policy, 500, 2000)
    policy.reply_finished()  # failed before it started, or finished playing
    assert policy.phase is Phase.IDLE
    assert policy.speech_started(3000) == TurnStarted(3000)


Step = tuple[str, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["speech", "silence", "reply_started", "reply_finished"]),
        st.integers(0, 1500),
    ),
    max_size=40,
)


@given(steps)
def test_a_turn_never_ends_twice_without_new_speech(script: list[Step]) -> None:
    """Between two TurnEnded there is always a TurnStarted, TurnExtended or BargeIn."""
    policy = VoiceTurnPolicy(CFG)
    now = 0
    speaking = False
    decisions: list[object] = []
    for action, gap in script:
        for t in range(now, now + gap, 32):
            decisions.append(policy.tick(t))
        now += gap
        if action == "speech" and not speaking:
            decisions.append(policy.speech_started(now))
            speaking = True
        elif action == "silence" and speaking:
            decisions.append(policy.speech_stopped(now))
            speaking = False
        elif action == "reply_started":
            policy.reply_started(now)
        elif action == "reply_finished":
            policy.reply_finished()
    ended_since_speech = False
    for decision in decisions:
        if isinstance(decision, TurnEnded):
            assert not ended_since_speech, decisions
            ended_since_speech = True
        elif isinstance(decision, TurnStarted | TurnExtended | BargeIn):
            ended_since_speech = False
