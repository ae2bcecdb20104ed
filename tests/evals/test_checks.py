"""Expectation checks on recorded event lists: no server, no model."""

from __future__ import annotations

import copy

import pytest

from evals.checks import (
    Verdict,
    check_barge_in,
    check_cites,
    check_contains,
    check_expressions,
    check_judge,
    check_not_contains,
    check_not_regex,
    check_regex,
    check_reply,
    check_visemes,
    viseme_problems,
)
from evals.record import Reply, TimedEvent, TurnRecord, build_replies
from evals.suite import BargeIn, Expectations, JudgeSpec
from tests.evals.recorded import T0, citation, frames, reply_events, segment

ANSWER = "You can return it within 45 days of delivery."


def _reply(events: list[TimedEvent], **frames_at: float) -> Reply:
    replies = build_replies(events, frames(frames_at["audio_at"], 5) if frames_at else ())
    (reply,) = replies.values()
    return reply


def _turn(events: list[TimedEvent], *, speech_end_at: float | None = None) -> TurnRecord:
    return TurnRecord(0, "say" if speech_end_at else "text", "q", T0, speech_end_at, events=events)


# ── text ─────────────────────────────────────────────────────────────────


def test_the_reply_text_is_rebuilt_from_deltas_and_done() -> None:
    reply = _reply(reply_events(ANSWER))
    assert reply.text == ANSWER
    assert reply.status == "completed"
    assert reply.first_text_at == pytest.approx(T0 + 0.3)
    assert reply.citations is None


def test_contains_is_case_insensitive_and_takes_alternatives() -> None:
    assert check_contains("45 DAYS", ANSWER).status == "passed"
    assert check_contains(["forty-five", "45"], ANSWER).status == "passed"
    missing = check_contains(["30 days", "thirty days"], ANSWER)
    assert missing.status == "failed"
    assert "none of '30 days', 'thirty days'" in missing.message
    assert ANSWER in missing.message, "the failure quotes the actual reply"


def test_case_sensitive_matching_can_be_asked_for() -> None:
    assert check_contains("you can", ANSWER, case_sensitive=True).status == "failed"
    assert check_regex(r"^You", ANSWER, case_sensitive=True).status == "passed"
    assert check_regex(r"^you", ANSWER, case_sensitive=True).status == "failed"


def test_not_contains_shows_where_the_forbidden_text_is() -> None:
    result = check_not_contains("**", "Sure! **Step one** is easy.")
    assert result.status == "failed"
    assert "**Step one**" in result.message
    assert check_not_contains("**", ANSWER).status == "passed"


def test_regex_and_not_regex() -> None:
    assert check_regex(r"\b45\s+days\b", ANSWER).message == "matched '45 days'"
    assert check_regex(r"\b30 days", ANSWER).status == "failed"
    leak = check_not_regex(r"(send|email)\b[^.]{0,60}\bpassword", "Please email us your password.")
    assert leak.status == "failed"
    assert "email us your password" in leak.message
    assert check_not_regex(r"password", ANSWER).status == "passed"


def test_a_reply_that_did_not_complete_fails_even_without_expectations() -> None:
    events = reply_events("The model", status="failed")
    results = check_reply(Expectations(), _turn(events), _reply(events), {})
    assert [(r.name, r.status) for r in results] == [("reply completed", "failed")]
    assert "status failed" in results[0].message


def test_no_reply_at_all_is_one_failure_with_the_turn_error() -> None:
    turn = _turn([])
    turn.error = "no a reply within 90 s"
    (result,) = check_reply(Expectations(contains=["x"]), turn, None, {})
    assert result.failed and "90 s" in result.message


# ── citations ────────────────────────────────────────────────────────────


def test_cites_names_a_source_of_the_citations_event() -> None:
    events = reply_events(
        ANSWER, citations=[citation("returns-and-refunds.md"), citation("policies/warranty.txt", 2)]
    )
    reply = _reply(events)
    assert [r.status for r in check_cites(["returns-and-refunds.md"], reply)] == ["passed"]
    assert check_cites(["warranty.txt"], reply)[0].status == "passed", "a base name matches"
    (missing,) = check_cites(["shipping.html"], reply)
    assert missing.failed
    assert "policies/warranty.txt, returns-and-refunds.md" in missing.message


def test_cites_fails_without_a_citations_event() -> None:
    (result,) = check_cites(["warranty.txt"], _reply(reply_events(ANSWER)))
    assert result.failed
    assert "no response.citations" in result.message


# ── audio: expressions and visemes ───────────────────────────────────────


def test_expression_in_needs_one_of_the_names_among_the_segments() -> None:
    reply = _reply(reply_events("Hello there!", spoken=True, expressions=["smile"]))
    assert check_expressions(["smile", "laugh"], reply).status == "passed"
    wrong = check_expressions(["sad"], reply)
    assert wrong.failed and "['smile']" in wrong.message
    unspoken = check_expressions(["smile"], _reply(reply_events("Hello there!")))
    assert unspoken.failed and "not spoken" in unspoken.message


def test_a_tiled_viseme_track_is_aligned() -> None:
    reply = _reply(reply_events("We open at nine", spoken=True))
    result = check_visemes(reply)
    assert result.status == "passed", result.message


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda s: s.update(visemes=[]), "no visemes"),
        (lambda s: s["visemes"].reverse(), "go back"),
        (lambda s: s["visemes"][1].update(start_ms=s["visemes"][1]["start_ms"] + 200), "gap"),
        (lambda s: s["visemes"][-1].update(duration_ms=5000), "after the audio"),
        (lambda s: s["visemes"].__setitem__(1, {**s["visemes"][1], "id": 0}), "no mouth shape"),
        (lambda s: s["words"][-1].update(start_ms=9000), "ends after the audio"),
    ],
)
def test_misaligned_visemes_are_reported(mutate: object, problem: str) -> None:
    seg = segment("resp_1", "We open at nine")
    bad = copy.deepcopy(seg)
    mutate(bad)  # type: ignore[operator]
    problems = viseme_problems(bad)
    assert problems and problem in " ".join(problems)
    assert viseme_problems(seg) == []


# ── budgets ──────────────────────────────────────────────────────────────


def test_budgets_measure_from_sending_or_from_the_end_of_speech() -> None:
    events = reply_events(ANSWER, first_text_ms=400, spoken=True, source="voice")
    reply = _reply(events, audio_at=T0 + 0.9)
    typed = _turn(events)
    budgets = {"first_text_ms": 500, "first_audio_ms": 800, "voice_to_voice_ms": 1000}
    results = {r.name: r for r in check_reply(Expectations(), typed, reply, budgets)}
    assert results["first_text_ms ≤ 500"].status == "passed"
    assert results["first_audio_ms ≤ 800"].failed
    assert results["first_audio_ms ≤ 800"].message == "took 900 ms, over the budget by 100"
    assert "voice_to_voice_ms ≤ 1000" not in results, "a typed turn has no voice to voice"

    spoken = _turn(events, speech_end_at=T0 - 0.2)  # speech ended 200 ms before T0
    results = {r.name: r for r in check_reply(Expectations(), spoken, reply, budgets)}
    assert results["voice_to_voice_ms ≤ 1000"].failed
    assert results["voice_to_voice_ms ≤ 1000"].message.startswith("took 1100 ms")


def test_a_budget_without_the_stage_fails() -> None:
    events = reply_events(ANSWER)  # text only: no audio came
    results = check_reply(Expectations(), _turn(events), _reply(events), {"first_audio_ms": 900})
    assert results[-1].failed and results[-1].message == "no first audio arrived"


# ── barge-in ─────────────────────────────────────────────────────────────


def _interrupted(truncated: str | None, played_ms: float) -> Reply:
    text = "We open at nine on Sundays and close at six."
    events = reply_events(text, spoken=True, status="cancelled")
    if truncated is not None:
        events.append(
            TimedEvent(
                T0 + 2, {"type": "response.truncated", "response_id": "resp_1", "text": truncated}
            )
        )
    reply = _reply(events, audio_at=T0 + 0.5)
    reply.played_ms = played_ms
    return reply


def test_a_barge_in_keeps_only_whole_words_heard() -> None:
    # Words are 300 ms apart from 50 ms, 280 ms long: "We" ends at 330, "open" at 630, ...
    reply = _interrupted("We open", 700)
    reply.history_text = "We open"
    results = check_barge_in(BargeIn(after_ms=700), _turn([]), reply)
    assert [r.status for r in results] == ["passed"] * 3, results
    assert reply.words_heard(700) == ["We", "open"]


def test_history_with_words_not_heard_fails() -> None:
    reply = _interrupted("We open at nine", 700)
    results = {r.name: r for r in check_barge_in(BargeIn(after_ms=700), _turn([]), reply)}
    kept = results["history keeps a prefix of what was heard"]
    assert kept.failed and "'We open'" in kept.message
    assert results["history snapshot"].status == "skipped"


def test_a_missing_truncation_or_a_reply_too_short_to_interrupt_fails() -> None:
    results = check_barge_in(BargeIn(after_ms=700), _turn([]), _interrupted(None, 700))
    assert results[-1].name == "response.truncated" and results[-1].failed
    short = _interrupted(None, 0)
    short.played_ms = None
    (result,) = check_barge_in(BargeIn(after_ms=5000), _turn([]), short)
    assert result.failed and "ended before 5000 ms" in result.message


# ── judge ────────────────────────────────────────────────────────────────


def test_the_judge_is_skipped_not_passed_when_none_is_configured() -> None:
    spec = JudgeSpec(rubric="polite", min_score=4)
    assert check_judge(spec, None, skipped="no judge configured").status == "skipped"
    assert check_judge(spec, Verdict(4, "fine")).status == "passed"
    low = check_judge(spec, Verdict(2, "rude"))
    assert low.failed and low.message == "score 2: rude"
    assert check_judge(spec, None, error="judge unreachable").failed


# ── timings of a spoken turn ─────────────────────────────────────────────


def test_timings_of_a_spoken_turn_use_the_last_pause_before_the_commit() -> None:
    item = {"item_id": "item_1"}
    rid = {"response_id": "resp_1"}
    events = [
        TimedEvent(T0 - 1.5, {"type": "input_audio.speech_started", **item}),
        TimedEvent(T0 - 0.8, {"type": "input_audio.speech_stopped", **item}),  # at a comma
        TimedEvent(T0 + 0.25, {"type": "input_audio.speech_stopped", **item}),
        TimedEvent(T0 + 0.6, {"type": "input_audio.transcript.completed", **item}),
        TimedEvent(T0 + 0.601, {"type": "input.committed", "source": "voice", **item}),
        TimedEvent(T0 + 0.602, {"type": "response.created", "input_item_id": "item_1", **rid}),
        TimedEvent(T0 + 0.7, {"type": "response.text.delta", "delta": "Hi", **rid}),
        TimedEvent(T0 + 0.9, {"type": "response.done", "status": "completed", "text": "Hi", **rid}),
        TimedEvent(T0 + 2.0, {"type": "input_audio.speech_stopped", **item}),  # after: ignored
    ]
    turn = TurnRecord(0, "say", "q", T0 - 2, speech_end_at=T0, item_id="item_1", events=events)
    turn.reply = _reply(events)
    timings = turn.timings_ms()
    assert timings["speech_stopped"] == 250.0
    assert timings["transcript"] == 600.0
    assert timings["committed"] == 601.0
    assert timings["first_text"] == 700.0
    assert timings["done"] == 900.0
    typed = TurnRecord(0, "text", "q", T0, item_id="item_1", events=events)
    assert typed.timings_ms()["speech_stopped"] is None
