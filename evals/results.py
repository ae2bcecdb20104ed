"""Results of an eval run, as plain data that the reports (JSON, JUnit XML, HTML) render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from evals.checks import CheckResult
from evals.record import Reply, TurnRecord

CaseStatus = Literal["passed", "failed", "error", "xfailed", "xpassed"]
"""``xfailed``: a case marked ``xfail`` failed as expected; ``xpassed``: it passed anyway."""


@dataclass
class TurnResult:
    index: int
    kind: str
    user: str
    transcript: str | None
    reply: dict[str, Any] | None
    timings_ms: dict[str, float | None]
    checks: list[CheckResult]
    events: list[dict[str, Any]] = field(default_factory=list)
    interruption: TurnResult | None = None
    error: str | None = None

    @property
    def failures(self) -> list[CheckResult]:
        own = [c for c in self.checks if c.failed]
        return own + (self.interruption.failures if self.interruption else [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "user": self.user,
            "transcript": self.transcript,
            "reply": self.reply,
            "timings_ms": self.timings_ms,
            "checks": [c.to_dict() for c in self.checks],
            "interruption": self.interruption.to_dict() if self.interruption else None,
            "error": self.error,
            "events": self.events,
        }


def reply_summary(reply: Reply | None) -> dict[str, Any] | None:
    if reply is None:
        return None
    return {
        "response_id": reply.response_id,
        "status": reply.status,
        "reason": reply.reason,
        "text": reply.text,
        "spoken": reply.spoken_text,
        "segments": len(reply.segments),
        "audio_ms": round(reply.audio_ms, 1),
        "expressions": reply.expressions,
        "citations": reply.citations,
        "truncated": reply.truncated,
        "played_ms": None if reply.played_ms is None else round(reply.played_ms, 1),
        "history_text": reply.history_text,
        "underruns": reply.underruns,
    }


def turn_result(
    record: TurnRecord,
    checks: list[CheckResult],
    case_started: float,
    interruption: TurnResult | None = None,
) -> TurnResult:
    return TurnResult(
        index=record.index,
        kind=record.kind,
        user=record.user,
        transcript=record.transcript,
        reply=reply_summary(record.reply),
        timings_ms=record.timings_ms(),
        checks=checks,
        events=[
            {"at_ms": round((e.at - case_started) * 1000, 1), **e.event} for e in record.events
        ],
        interruption=interruption,
        error=record.error,
    )


@dataclass
class CaseResult:
    suite: str
    name: str
    persona: str
    status: CaseStatus
    duration_s: float
    turns: list[TurnResult] = field(default_factory=list)
    description: str | None = None
    error: str | None = None
    session_id: str | None = None
    xfail: str | None = None

    @property
    def failures(self) -> list[tuple[int, CheckResult]]:
        return [(t.index, c) for t in self.turns for c in t.failures]

    @property
    def skipped_checks(self) -> list[tuple[int, CheckResult]]:
        return [(t.index, c) for t in self.turns for c in t.checks if c.status == "skipped"]

    def reason(self) -> str:
        """One line saying why the case did not pass (empty when it did)."""
        if self.error:
            return self.error
        failures = self.failures
        if not failures:
            return ""
        index, first = failures[0]
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        return f"turn {index + 1}: {first.name}: {first.message}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "name": self.name,
            "description": self.description,
            "persona": self.persona,
            "status": self.status,
            "xfail": self.xfail,
            "duration_s": round(self.duration_s, 2),
            "session_id": self.session_id,
            "error": self.error,
            "reason": self.reason(),
            "turns": [t.to_dict() for t in self.turns],
        }


@dataclass
class SuiteResult:
    name: str
    path: str
    cases: list[CaseResult]

    def count(self, status: CaseStatus) -> int:
        return sum(1 for c in self.cases if c.status == status)


@dataclass
class RunResult:
    suites: list[SuiteResult]
    url: str
    started: str
    duration_s: float
    judge: str | None = None
    server: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cases(self) -> list[CaseResult]:
        return [c for s in self.suites for c in s.cases]

    @property
    def passed(self) -> bool:
        return all(c.status in ("passed", "xfailed", "xpassed") for c in self.cases)

    def totals(self) -> dict[str, int]:
        totals = {"cases": 0, "passed": 0, "failed": 0, "error": 0, "xfailed": 0, "xpassed": 0}
        for case in self.cases:
            totals["cases"] += 1
            totals[case.status] += 1
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "duration_s": round(self.duration_s, 2),
            "url": self.url,
            "server": self.server,
            "judge": self.judge,
            "notes": self.notes,
            "totals": self.totals(),
            "passed": self.passed,
            "suites": [
                {
                    "name": s.name,
                    "path": s.path,
                    "cases": [c.to_dict() for c in s.cases],
                }
                for s in self.suites
            ],
        }
