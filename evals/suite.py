"""Eval suites: YAML files QA teams write, validated with pydantic when loaded.

A suite names a persona, default budgets and a list of cases; a case is a dialogue of user
turns, each typed (``text``), a WAV file (``audio``, relative to the suite file) or a line to be
spoken by the test voice (``say``), with the expectations its reply must meet. docs/evals.md
describes every field. ``load_suite`` raises ``SuiteError`` whose message names the file and
the field (``smoke.yaml: cases[1] 'greeting' → turns[0] → regex[0]: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

#: Expression names the avatar knows (speech/chunker.py EXPRESSIONS); a typo is a suite error.
EXPRESSIONS = frozenset({"smile", "sad", "surprised", "laugh", "wink", "thinking", "neutral"})

BUDGETS = ("first_text_ms", "first_audio_ms", "voice_to_voice_ms")


class SuiteError(ValueError):
    """A suite file is missing, not YAML, or does not match the schema."""


def _as_list(value: Any) -> Any:
    """Accept one string where a list of strings is expected."""
    return [value] if isinstance(value, str) else value


Strings = Annotated[list[str], BeforeValidator(_as_list)]
Needle = str | list[str]
"""A text the reply must contain, or a list of alternatives of which one must appear."""
Needles = Annotated[list[Needle], BeforeValidator(_as_list)]
Budget = Annotated[int, Field(gt=0, le=600_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JudgeSpec(_Model):
    """Score the reply 1-5 against a rubric with an LLM judge (skipped when none is set up)."""

    rubric: str = Field(min_length=1)
    min_score: int = Field(4, ge=1, le=5)


class Expectations(_Model):
    """What one reply must do. Every field is optional; unset fields check nothing."""

    contains: Needles = []
    not_contains: Strings = []
    regex: Strings = []
    not_regex: Strings = []
    case_sensitive: bool = False
    cites: Strings = []
    expression_in: Strings = []
    visemes: Literal["aligned"] | None = None
    first_text_ms: Budget | None = None
    first_audio_ms: Budget | None = None
    voice_to_voice_ms: Budget | None = None
    judge: JudgeSpec | None = None

    @field_validator("contains")
    @classmethod
    def _no_empty_needles(cls, needles: list[Needle]) -> list[Needle]:
        for needle in needles:
            options = [needle] if isinstance(needle, str) else needle
            if not options or any(not o.strip() for o in options):
                raise ValueError("an entry is empty; give a word or a list of alternatives")
        return needles

    @field_validator("not_contains", "cites")
    @classmethod
    def _no_empty_strings(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("an entry is empty")
        return values

    @field_validator("regex", "not_regex")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns

    @field_validator("expression_in")
    @classmethod
    def _known_expressions(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - EXPRESSIONS)
        if unknown:
            raise ValueError(
                f"unknown expression(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(EXPRESSIONS))}"
            )
        return names

    def budget(self, name: str, default: int | None) -> int | None:
        """This reply's budget ``name``: its own value if set here (null switches it off),
        else the suite's default."""
        return getattr(self, name) if name in self.model_fields_set else default

    @property
    def needs_audio(self) -> bool:
        """Checking this needs the reply's audio and timings (audio output granted)."""
        return bool(
            self.expression_in or self.visemes or self.first_audio_ms or self.voice_to_voice_ms
        )


class BargeIn(_Model):
    """Interrupt the reply once ``after_ms`` of its audio has played at the client."""

    after_ms: int = Field(ge=0, le=120_000)
    say: str | None = Field(None, min_length=1)
    text: str | None = Field(None, min_length=1)
    expect: Expectations | None = None
    """Expectations on the reply to the interruption (``say`` or ``text``)."""

    @model_validator(mode="after")
    def _one_interruption(self) -> BargeIn:
        if self.say is not None and self.text is not None:
            raise ValueError("give at most one of 'say' and 'text'")
        if self.expect is not None and self.say is None and self.text is None:
            raise ValueError("'expect' needs an interruption to answer: add 'say' or 'text'")
        return self


class Turn(Expectations):
    """One user turn (exactly one of ``text``, ``audio``, ``say``) and its reply's expectations."""

    text: str | None = Field(None, min_length=1)
    audio: str | None = Field(None, min_length=1)
    say: str | None = Field(None, min_length=1)
    barge_in: BargeIn | None = None

    @model_validator(mode="after")
    def _one_input(self) -> Turn:
        given = [k for k in ("text", "audio", "say") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a turn is exactly one of 'text', 'audio' or 'say'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.kind == "text" and self.voice_to_voice_ms is not None:
            raise ValueError("voice_to_voice_ms applies to spoken turns ('audio' or 'say')")
        return self

    @property
    def kind(self) -> Literal["text", "audio", "say"]:
        if self.text is not None:
            return "text"
        return "audio" if self.audio is not None else "say"

    @property
    def spoken(self) -> bool:
        return self.kind != "text"


class Defaults(_Model):
    """Settings and budgets every turn of the suite gets unless it sets its own."""

    first_text_ms: Budget | None = None
    first_audio_ms: Budget | None = None
    voice_to_voice_ms: Budget | None = None
    timeout_s: float = Field(90.0, gt=0, le=3600)
    voice: Literal["piper", "espeak"] = "piper"
    playback: Literal["fast", "realtime"] = "fast"
    audio_out: bool | None = None


class Case(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    persona: str | None = Field(None, min_length=1, max_length=64)
    tags: Strings = []
    xfail: str | None = Field(None, min_length=1)
    """A known failure, and why: the case runs and is checked as usual, but failing its
    expectations does not fail the run (it is reported as ``xfailed``; passing as ``xpassed``)."""
    turns: list[Turn] = Field(min_length=1)


class Suite(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    persona: str | None = Field(None, min_length=1, max_length=64)
    defaults: Defaults = Defaults()
    cases: list[Case] = Field(min_length=1)

    @field_validator("cases")
    @classmethod
    def _unique_case_names(cls, cases: list[Case]) -> list[Case]:
        seen: set[str] = set()
        for case in cases:
            if case.name in seen:
                raise ValueError(f"two cases are named {case.name!r}")
            seen.add(case.name)
        return cases


class LoadedSuite(BaseModel):
    """A suite and where it came from (audio paths resolve against ``folder``)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    suite: Suite

    @property
    def folder(self) -> Path:
        return self.path.parent

    def audio_path(self, turn: Turn | BargeIn) -> Path | None:
        audio = getattr(turn, "audio", None)
        return None if audio is None else (self.folder / audio)


def load_suite(path: Path) -> LoadedSuite:
    """Read and validate one suite file; raises ``SuiteError`` naming the file and field."""
    name = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{name}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"{name}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{name}: a suite is a mapping with 'name' and 'cases'")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        lines = list(dict.fromkeys(_describe(error, data) for error in exc.errors()))
        joined = ("\n  " if len(lines) > 1 else "") + "\n  ".join(lines)
        raise SuiteError(f"{name}: {joined}") from None
    loaded = LoadedSuite(path=path, suite=suite)
    problems = _missing_audio(loaded)
    if problems:
        raise SuiteError(f"{name}: " + "; ".join(problems))
    return loaded


def load_suites(paths: Sequence[Path]) -> list[LoadedSuite]:
    """Load every suite; raises one ``SuiteError`` listing all the broken files."""
    loaded: list[LoadedSuite] = []
    errors: list[str] = []
    for path in paths:
        try:
            loaded.append(load_suite(path))
        except SuiteError as exc:
            errors.append(str(exc))
    if errors:
        raise SuiteError("\n".join(errors))
    return loaded


def _missing_audio(loaded: LoadedSuite) -> list[str]:
    problems = []
    for c, case in enumerate(loaded.suite.cases):
        for t, turn in enumerate(case.turns):
            path = loaded.audio_path(turn)
            if path is not None and not path.is_file():
                problems.append(
                    f"cases[{c}] {case.name!r} → turns[{t}] → audio: no such file {str(path)!r} "
                    "(paths are relative to the suite file)"
                )
    return problems


def _describe(error: Any, data: dict[str, Any]) -> str:
    """One validation error as "cases[1] 'name' → turns[0] → field: message"."""
    parts: list[str] = []
    node: Any = data
    branch = False
    for key in error["loc"]:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            name = node.get("name") if isinstance(node, dict) else None
            label = f"[{key}]" + (f" {name!r}" if isinstance(name, str) else "")
            parts[-1:] = [(parts[-1] if parts else "") + label]
        elif (isinstance(node, dict) and key in node) or (not branch and key in _FIELDS):
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
        else:  # pydantic names the union member tried ("str", "list[str]"): not a field
            branch = True
    kind = error.get("type", "")
    if branch:
        message = "must be a text, or a list of alternative texts"
    elif kind == "extra_forbidden":
        message = "unknown field (check the spelling; docs/evals.md lists every field)"
    elif kind == "missing":
        message = "required field is missing"
    else:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{' → '.join(parts) or 'suite'}: {message}"


_FIELDS = frozenset(
    name
    for model in (Suite, Defaults, Case, Turn, BargeIn, JudgeSpec)
    for name in model.model_fields
)
