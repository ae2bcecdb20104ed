"""The front matter of a persona file: splitting it off, parsing the YAML, validating the fields
with pydantic, and pointing every problem at its line.

Line numbers come from the YAML node marks (``yaml.compose``): a pydantic error's ``loc`` is
walked down the node tree; unknown and missing fields point at their key's line, bad values at
the value's line.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from agent.personas.errors import Problem
from speech.chunker import EXPRESSIONS

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
VOICE_PATTERN = r"^[a-z]{2,3}_[A-Z]{2}-[A-Za-z0-9_]+-(?:x_low|low|medium|high)$"
MAX_URL_CHARS = 2048
DEFAULT_VOICE = "en_US-joe-medium"
DEFAULT_REFUSAL = "Sorry, I can only help with questions about the topics I know about."

ExpressionName = Literal["smile", "sad", "surprised", "laugh", "wink", "thinking", "neutral"]
assert set(ExpressionName.__args__) == EXPRESSIONS  # type: ignore[attr-defined]


class _Fields(BaseModel):
    """Strict: YAML already gives typed values, so nothing is coerced (``"500"`` is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class VoiceFields(_Fields):
    voice: str = Field(DEFAULT_VOICE, pattern=VOICE_PATTERN)
    rate: float = Field(1.0, ge=0.5, le=2.0)


class AvatarFields(_Fields):
    url: str
    format: Literal["default", "glb", "vrm"] | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        url = url.strip()
        if not url:
            raise PydanticCustomError("avatar_url", "must be a non-empty string")
        if len(url) > MAX_URL_CHARS or any(c.isspace() or not c.isprintable() for c in url):
            raise PydanticCustomError(
                "avatar_url",
                f"must be a URL of at most {MAX_URL_CHARS} characters without spaces",
            )
        parts = urlsplit(url)
        absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
        server_path = not parts.scheme and not parts.netloc and url.startswith("/")
        if not (absolute or server_path):
            raise PydanticCustomError(
                "avatar_url",
                "must be an http(s) URL or a path starting with '/' on this server "
                "(e.g. /avatars/ada.glb), not '{url}'",
                {"url": url},
            )
        return url


class TurnTakingFields(_Fields):
    """Per-persona overrides of the server's voice settings; unset fields keep the server's."""

    silence_ms: int | None = Field(None, ge=200, le=3000)
    min_silence_ms: int | None = Field(None, ge=100, le=2000)
    max_silence_ms: int | None = Field(None, ge=300, le=5000)
    echo_guard_ms: int | None = Field(None, ge=0, le=2000)
    min_speech_ms: int | None = Field(None, ge=32, le=1000)
    barge_in: bool | None = None


class KnowledgeFields(_Fields):
    base: str = Field(pattern=ID_PATTERN)
    top_k: int = Field(4, ge=1, le=10)
    min_similarity: float = Field(0.3, ge=0.0, le=1.0)
    scope: Literal["open", "strict"] = "open"
    refusal: str = Field(DEFAULT_REFUSAL, min_length=1, max_length=500)


class FrontMatter(_Fields):
    name: str | None = Field(None, max_length=100)
    label: str | None = Field(None, pattern=LABEL_PATTERN)
    greeting: str | None = Field(None, max_length=1000)
    voice: VoiceFields = VoiceFields()
    avatar: AvatarFields | None = None
    expressions: dict[ExpressionName, ExpressionName] = Field(default_factory=dict)
    turn_taking: TurnTakingFields = TurnTakingFields()
    knowledge: KnowledgeFields | None = None
    vocabulary: list[str] = Field(default_factory=list, max_length=200)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, name: str | None) -> str | None:
        if name is not None and not name.strip():
            raise PydanticCustomError("blank", "must not be blank")
        return name.strip() if name is not None else None

    @field_validator("vocabulary")
    @classmethod
    def _words_not_blank(cls, words: list[str]) -> list[str]:
        return [w.strip() for w in words if w.strip()]


# ── splitting and YAML ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Split:
    """A persona file cut in two. ``front`` is the YAML text (``None``: the file has none),
    ``body`` the template; ``body_line`` is the file line the body starts on."""

    front: str | None
    body: str
    body_line: int


_CLOSING = re.compile(r"^---[ \t]*$", re.MULTILINE)
FRONT_LINE = 2
"""File line of the front matter's first line (line 1 is the opening ``---``)."""


def split_file(text: str, path: str) -> Split | Problem:
    """Cut ``text`` (``\\n`` line ends) into front matter and body."""
    if not text.startswith("---\n") and text.rstrip(" \t") != "---":
        return Split(None, text, 1)
    closing = _CLOSING.search(text, 4)
    if closing is None:
        return Problem(path, 1, None, "the front matter is not closed with a '---' line")
    front = text[4 : closing.start()]
    body_start = closing.end() + 1
    return Split(front, text[body_start:], text.count("\n", 0, body_start) + 1)


def _yaml_problem(exc: yaml.YAMLError, path: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = FRONT_LINE + mark.line if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {context}, {problem}" if context else f"invalid YAML: {problem}"
    return Problem(path, line, None, message)


def _duplicate_keys(node: yaml.Node, path: str, prefix: str = "") -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = f"{prefix}.{key.value}" if prefix else str(key.value)
            if key.value in seen:
                message = "duplicate key: each field may appear only once"
                problems.append(Problem(path, FRONT_LINE + key.start_mark.line, name, message))
            seen.add(key.value)
            problems += _duplicate_keys(value, path, name)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, path, f"{prefix}[{index}]")
    return problems


def load_yaml(front: str, path: str) -> tuple[object, yaml.Node | None, list[Problem]]:
    """The front matter's data, its node tree (for line numbers) and any problems so far."""
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        return None, None, [_yaml_problem(exc, path)]
    problems = _duplicate_keys(node, path) if node is not None else []
    if data is not None and not isinstance(data, dict):
        line = FRONT_LINE + node.start_mark.line if node is not None else FRONT_LINE
        problems.append(Problem(path, line, None, "the front matter must be a mapping of fields"))
    return data, node, problems


# ── pydantic errors → problems with lines ─────────────────────────────────────────────────────


def _field_name(loc: Sequence[int | str]) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name


def line_of(node: yaml.Node | None, loc: Sequence[int | str], error_type: str) -> int | None:
    """The line of the YAML node a pydantic ``loc`` points at.

    A missing or unknown field, or a value that is itself a mapping or list, points at its
    key's line; a scalar value at its own line.
    """
    if node is None:
        return None
    key_line = node.start_mark.line
    current: yaml.Node = node
    for part in loc:
        found: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            for key, value in current.value:
                if str(key.value) == part:
                    key_line, found = key.start_mark.line, value
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            found = current.value[part]
            key_line = found.start_mark.line
        if found is None:
            return FRONT_LINE + key_line
        current = found
    if error_type in ("extra_forbidden", "missing") or not isinstance(current, yaml.ScalarNode):
        return FRONT_LINE + key_line
    return FRONT_LINE + current.start_mark.line


def _message(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validate_fields(
    data: dict[str, Any], node: yaml.Node | None, path: str
) -> tuple[FrontMatter | None, list[Problem]]:
    """Validate the front matter's mapping; every problem found, each with its line."""
    data = dict(data)
    if isinstance(data.get("avatar"), str):
        data["avatar"] = {"url": data["avatar"]}
    if isinstance(data.get("voice"), str):
        data["voice"] = {"voice": data["voice"]}
    try:
        fields = FrontMatter.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            is_key = "[key]" in error["loc"]
            loc = [p for p in error["loc"] if p != "[key]"]
            kind = "extra_forbidden" if is_key else str(error["type"])
            if is_key:
                message = f"unknown cue name; {_message(error)}"
            elif kind == "extra_forbidden":
                message = "unknown field" + _did_you_mean(loc)
            elif loc == ["avatar"] and kind == "model_type":
                message = "must be a URL or a mapping with 'url' and optional 'format'"
            else:
                message = _message(error)
            problems.append(Problem(path, line_of(node, loc, kind), _field_name(loc), message))
        return None, problems
    return fields, _cross_checks(fields, node, path)


def _did_you_mean(loc: Sequence[int | str]) -> str:
    """A hint for an unknown field: the closest known name, or the list of known names."""
    model: type[BaseModel] = FrontMatter
    for part in loc[:-1]:
        info = model.model_fields.get(str(part))
        args = getattr(info.annotation, "__args__", (info.annotation,)) if info else ()
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not models:
            return ""
        model = models[0]
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known fields: {', '.join(known)})"


def _cross_checks(fields: FrontMatter, node: yaml.Node | None, path: str) -> list[Problem]:
    """Rules between fields: the turn-taking pauses must be ordered min ≤ base ≤ max."""
    t = fields.turn_taking
    problems: list[Problem] = []
    ordered = [
        (name, value)
        for name, value in (
            ("min_silence_ms", t.min_silence_ms),
            ("silence_ms", t.silence_ms),
            ("max_silence_ms", t.max_silence_ms),
        )
        if value is not None
    ]
    for (low_name, low), (high_name, high) in itertools.pairwise(ordered):
        if low > high:
            loc = ["turn_taking", high_name]
            problems.append(
                Problem(
                    path,
                    line_of(node, loc, "value"),
                    _field_name(loc),
                    f"must be at least turn_taking.{low_name} ({low})",
                )
            )
    return problems
