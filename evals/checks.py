"""Expectation checks (pure): one recorded turn in, one result per expectation out.

Each check says why it failed in words a QA engineer can act on, quoting the actual reply.
The LLM judge is the one check that needs the network; ``check_judge`` only turns its verdict
(or its absence) into a result.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from evals.record import Reply, TurnRecord
from evals.suite import BargeIn, Expectations, JudgeSpec, Needle

Status = Literal["passed", "failed", "skipped"]

#: Slack for viseme bounds: the audio goes out in 40 ms frames (tts.frame_ms).
VISEME_TOLERANCE_MS = 40.0
_QUOTE_CHARS = 400


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "message": self.message}


@dataclass(frozen=True, slots=True)
class Verdict:
    """An LLM judge's answer."""

    score: int
    reason: str


def quote(text: str, limit: int = _QUOTE_CHARS) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _ok(name: str, message: str = "") -> CheckResult:
    return CheckResult(name, "passed", message)


def _fail(name: str, message: str) -> CheckResult:
    return CheckResult(name, "failed", message)


def check_reply(
    expect: Expectations,
    turn: TurnRecord,
    reply: Reply | None,
    budgets: Mapping[str, int | None],
    *,
    interrupted: bool = False,
) -> list[CheckResult]:
    """Every expectation of ``expect`` on ``reply`` (the answer to ``turn``), judge excepted.

    ``budgets`` maps each budget name to the value in force (the turn's, else the suite's).
    ``interrupted``: the reply was stopped on purpose (barge-in), so it need not complete.
    """
    if reply is None:
        why = turn.error or "no reply arrived"
        return [_fail("reply", why)]
    results: list[CheckResult] = []
    if not interrupted:
        if reply.status == "completed" and reply.text.strip():
            results.append(_ok("reply completed"))
        else:
            detail = f"status {reply.status or 'none'}" + (
                f", reason {reply.reason}" if reply.reason else ""
            )
            results.append(_fail("reply completed", f"{detail}; text {quote(reply.text)}"))
    text = reply.text
    results += [check_contains(needle, text, expect.case_sensitive) for needle in expect.contains]
    results += [check_not_contains(n, text, expect.case_sensitive) for n in expect.not_contains]
    results += [check_regex(pattern, text, expect.case_sensitive) for pattern in expect.regex]
    results += [check_not_regex(p, text, expect.case_sensitive) for p in expect.not_regex]
    if expect.cites:
        results += check_cites(expect.cites, reply)
    if expect.expression_in:
        results.append(check_expressions(expect.expression_in, reply))
    if expect.visemes == "aligned":
        results.append(check_visemes(reply))
    results += check_budgets(turn, reply, budgets)
    return results


def _norm(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def check_contains(needle: Needle, text: str, case_sensitive: bool = False) -> CheckResult:
    options = [needle] if isinstance(needle, str) else needle
    name = "contains " + " or ".join(repr(o) for o in options)
    hay = _norm(text, case_sensitive)
    if any(_norm(o, case_sensitive) in hay for o in options):
        return _ok(name)
    which = repr(options[0]) if len(options) == 1 else "none of " + ", ".join(map(repr, options))
    return _fail(name, f"{which} not found in the reply {quote(text)}")


def check_not_contains(needle: str, text: str, case_sensitive: bool = False) -> CheckResult:
    name = f"not_contains {needle!r}"
    at = _norm(text, case_sensitive).find(_norm(needle, case_sensitive))
    if at < 0:
        return _ok(name)
    context = text[max(0, at - 40) : at + len(needle) + 40]
    return _fail(name, f"found {needle!r} in the reply, at …{quote(context)}…")


def check_regex(pattern: str, text: str, case_sensitive: bool = False) -> CheckResult:
    name = f"regex /{pattern}/"
    match = re.search(pattern, text, 0 if case_sensitive else re.IGNORECASE)
    if match:
        return _ok(name, f"matched {match.group(0)!r}")
    return _fail(name, f"no match in the reply {quote(text)}")


def check_not_regex(pattern: str, text: str, case_sensitive: bool = False) -> CheckResult:
    name = f"not_regex /{pattern}/"
    match = re.search(pattern, text, 0 if case_sensitive else re.IGNORECASE)
    if match is None:
        return _ok(name)
    context = text[max(0, match.start() - 40) : match.end() + 40]
    return _fail(name, f"matched {match.group(0)!r} in the reply, at …{quote(context)}…")


def _source_names(citation: dict[str, Any]) -> set[str]:
    names = set()
    for key in ("source", "chunk_id", "title"):
        value = citation.get(key)
        if isinstance(value, str) and value:
            head = value.split("#", 1)[0] if key == "chunk_id" else value
            names |= {head, PurePosixPath(head).name}
    return names


def check_cites(sources: list[str], reply: Reply) -> list[CheckResult]:
    """Each of ``sources`` (file names) among the reply's ``response.citations``."""
    if reply.citations is None:
        return [_fail(f"cites {s!r}", "the reply had no response.citations event") for s in sources]
    cited = set().union(*(_source_names(c) for c in reply.citations)) if reply.citations else set()
    listed = sorted({str(c.get("source")) for c in reply.citations}) or ["nothing"]
    results = []
    for source in sources:
        name = f"cites {source!r}"
        if source in cited or PurePosixPath(source).name in cited:
            results.append(_ok(name))
        else:
            results.append(_fail(name, f"the reply cited {', '.join(listed)}"))
    return results


def check_expressions(names: list[str], reply: Reply) -> CheckResult:
    name = "expression_in " + ", ".join(names)
    if not reply.segments:
        return _fail(name, "the reply was not spoken (no response.audio.segment)")
    shown = reply.expressions
    if set(shown) & set(names):
        return _ok(name, f"expressions {shown}")
    return _fail(name, f"the reply's expressions were {shown or 'none'}")


def viseme_problems(
    segment: dict[str, Any], tolerance_ms: float = VISEME_TOLERANCE_MS
) -> list[str]:
    """Why one segment's viseme track is not aligned with its audio and words (empty: it is)."""
    sid = segment.get("segment_id", "?")
    visemes = segment.get("visemes") or []
    rate = segment.get("sample_rate") or 22050
    length_ms = segment.get("samples", 0) / rate * 1000
    if not visemes:
        return [f"segment {sid}: no visemes"]
    problems = []
    if visemes[0]["start_ms"] < 0:
        problems.append(f"segment {sid}: a viseme starts before the audio")
    for a, b in itertools.pairwise(visemes):
        if b["start_ms"] < a["start_ms"]:
            problems.append(f"segment {sid}: viseme times go back at {b['start_ms']} ms")
            break
        gap = b["start_ms"] - (a["start_ms"] + a["duration_ms"])
        if abs(gap) > tolerance_ms:
            what = "gap" if gap > 0 else "overlap"
            problems.append(f"segment {sid}: {what} of {abs(gap)} ms at {b['start_ms']} ms")
            break
    end = visemes[-1]["start_ms"] + visemes[-1]["duration_ms"]
    if end > length_ms + tolerance_ms:
        problems.append(
            f"segment {sid}: visemes end at {end} ms, after the audio ({length_ms:.0f})"
        )
    voiced = [(v["start_ms"], v["start_ms"] + v["duration_ms"]) for v in visemes if v["id"] != 0]
    for word in segment.get("words") or []:
        if word["duration_ms"] <= 0:
            continue
        start, stop = word["start_ms"], word["start_ms"] + word["duration_ms"]
        if stop > length_ms + tolerance_ms:
            problems.append(f"segment {sid}: word {word['text']!r} ends after the audio")
        elif not any(a < stop and b > start for a, b in voiced):
            problems.append(f"segment {sid}: no mouth shape while {word['text']!r} is spoken")
    return problems


def check_visemes(reply: Reply) -> CheckResult:
    name = "visemes aligned"
    if not reply.segments:
        return _fail(name, "the reply was not spoken (no response.audio.segment)")
    problems = [p for s in reply.segments for p in viseme_problems(s)]
    if problems:
        return _fail(name, "; ".join(problems[:5]))
    count = sum(len(s.get("visemes") or []) for s in reply.segments)
    return _ok(name, f"{count} visemes in {len(reply.segments)} segments")


def check_budgets(
    turn: TurnRecord, reply: Reply, budgets: Mapping[str, int | None]
) -> list[CheckResult]:
    results = []
    for budget, at, start, what in (
        ("first_text_ms", reply.first_text_at, turn.anchor_at, "first text"),
        ("first_audio_ms", reply.first_audio_at, turn.anchor_at, "first audio"),
        ("voice_to_voice_ms", reply.first_audio_at, turn.speech_end_at, "first audio"),
    ):
        limit = budgets.get(budget)
        if limit is None:
            continue
        if budget == "voice_to_voice_ms" and start is None:
            continue  # typed turn: the suite default applies to spoken turns only
        name = f"{budget} ≤ {limit}"
        if at is None or start is None:
            results.append(_fail(name, f"no {what} arrived"))
            continue
        took = (at - start) * 1000
        if took <= limit:
            results.append(_ok(name, f"{took:.0f} ms"))
        else:
            results.append(
                _fail(name, f"took {took:.0f} ms, over the budget by {took - limit:.0f}")
            )
    return results


def check_barge_in(spec: BargeIn, turn: TurnRecord, reply: Reply | None) -> list[CheckResult]:
    """The reply stopped at the client after ``after_ms`` and history kept only words heard."""
    name = f"barge_in after {spec.after_ms} ms"
    if reply is None:
        return [_fail(name, turn.error or "no reply arrived")]
    if reply.played_ms is None:
        why = turn.error or (
            f"the reply's audio ({reply.audio_ms:.0f} ms) ended before {spec.after_ms} ms"
        )
        return [_fail(name, why)]
    results = [_ok(name, f"stopped after {reply.played_ms:.0f} ms played")]
    heard = reply.words_heard(reply.played_ms)
    if reply.truncated is None:
        results.append(
            _fail(
                "response.truncated",
                f"none came; heard {quote(' '.join(heard))} of {quote(reply.spoken_text)}",
            )
        )
        return results
    kept = reply.truncated.split()
    if kept == heard[: len(kept)]:
        results.append(_ok("history keeps a prefix of what was heard", quote(reply.truncated)))
    else:
        results.append(
            _fail(
                "history keeps a prefix of what was heard",
                f"kept {quote(reply.truncated)}, but heard {quote(' '.join(heard))}",
            )
        )
    if reply.history_text is None:
        results.append(
            CheckResult("history snapshot", "skipped", "no history snapshot was fetched")
        )
    elif reply.history_text == reply.truncated:
        results.append(_ok("history snapshot", quote(reply.history_text)))
    else:
        results.append(
            _fail(
                "history snapshot",
                f"history has {quote(reply.history_text)}, truncated to {quote(reply.truncated)}",
            )
        )
    return results


def check_judge(
    spec: JudgeSpec,
    verdict: Verdict | None,
    *,
    skipped: str | None = None,
    error: str | None = None,
) -> CheckResult:
    """The judge's verdict against ``min_score``. Without one: skipped when ``skipped`` says why
    (no judge configured), else failed (``error``: the judge could not be asked or answered
    nonsense)."""
    name = f"judge ≥ {spec.min_score}"
    if verdict is None:
        if skipped is not None:
            return CheckResult(name, "skipped", skipped)
        return _fail(name, error or "the judge gave no verdict")
    message = f"score {verdict.score}: {verdict.reason}"
    return _ok(name, message) if verdict.score >= spec.min_score else _fail(name, message)
