"""A persona, parsed from the bytes of its file (pure: no disk access).

The file is YAML front matter between ``---`` lines, then the system prompt as a Jinja2
template; prompts/README.md documents every field for the people who edit these files.
``parse_persona`` reports every problem it finds at once (``PersonaError.problems``), each with
the file, line and field.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from agent.grounding import PassageLike
from agent.personas.errors import PersonaError, Problem
from agent.personas.front_matter import (
    DEFAULT_REFUSAL,
    DEFAULT_VOICE,
    AvatarFields,
    FrontMatter,
    Split,
    line_of,
    load_yaml,
    split_file,
    validate_fields,
)
from agent.personas.template import (
    PromptTemplate,
    check_renders,
    compile_template,
    render,
    render_error,
)

MAX_FILE_BYTES = 256 * 1024
AvatarFormat = Literal["default", "glb", "vrm"]


@dataclass(frozen=True, slots=True)
class Avatar:
    """The 3D model of a persona: where the browser loads it from, and how to read it."""

    url: str
    format: AvatarFormat


@dataclass(frozen=True, slots=True)
class Voice:
    """The Piper voice and how fast it speaks. ``rate`` 1.0 is the voice's own pace."""

    name: str = DEFAULT_VOICE
    rate: float = 1.0

    @property
    def length_scale(self) -> float:
        """Piper's ``length_scale`` for this rate (durations scale by 1/rate)."""
        return 1.0 / self.rate


@dataclass(frozen=True, slots=True)
class TurnTaking:
    """Per-persona overrides of the server's voice settings; ``None`` keeps the server's value.

    ``silence_ms``, ``min_silence_ms``, ``max_silence_ms``, ``echo_guard_ms``: as in the server's
    ``voice`` settings; ``min_speech_ms``: ``voice.vad_min_speech_ms`` (voiced time before speech
    counts, and so before a barge-in); ``barge_in``: whether speaking over the avatar interrupts it.
    """

    silence_ms: int | None = None
    min_silence_ms: int | None = None
    max_silence_ms: int | None = None
    echo_guard_ms: int | None = None
    min_speech_ms: int | None = None
    barge_in: bool | None = None

    def overrides(self) -> dict[str, int | bool]:
        """The fields this persona sets, by name."""
        values: dict[str, int | bool | None] = {
            "silence_ms": self.silence_ms,
            "min_silence_ms": self.min_silence_ms,
            "max_silence_ms": self.max_silence_ms,
            "echo_guard_ms": self.echo_guard_ms,
            "min_speech_ms": self.min_speech_ms,
            "barge_in": self.barge_in,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Knowledge:
    """The knowledge base a persona answers from (a folder under ``prompts/knowledge``)."""

    base: str
    top_k: int = 4
    min_similarity: float = 0.3
    scope: Literal["open", "strict"] = "open"
    """``strict``: refuse (with ``refusal``) questions no passage is similar enough to."""
    refusal: str = DEFAULT_REFUSAL


@dataclass(frozen=True, slots=True)
class Persona:
    """One version of a persona.

    ``version`` is the first 12 hex digits of the SHA-256 of the file's bytes (``source``
    encoded as UTF-8), ``label`` an optional human name for it. ``system_prompt`` is the
    template rendered with no passages and the date it was parsed on; ``render_system_prompt``
    renders it for a turn. ``expressions`` maps the expression cues of the model's replies to
    the avatar expressions shown (cues not listed show as themselves).
    """

    id: str
    name: str
    version: str
    system_prompt: str
    greeting: str | None
    vocabulary: tuple[str, ...] = ()
    avatar: Avatar | None = None
    label: str | None = None
    voice: Voice = Voice()
    expressions: Mapping[str, str] = field(default_factory=dict, hash=False)
    turn_taking: TurnTaking = TurnTaking()
    knowledge: Knowledge | None = None
    source: str = ""
    """The file's text exactly as read (for pinning a live session's persona and re-parsing)."""
    template: PromptTemplate | None = field(default=None, compare=False, repr=False)

    @property
    def display_version(self) -> str:
        """``version`` with the label, if any: ``3f2a9c1b7d0e (spring-launch)``."""
        return f"{self.version} ({self.label})" if self.label else self.version

    def expression(self, cue: str) -> str:
        """The avatar expression to show for an expression cue of a reply."""
        return self.expressions.get(cue, cue)

    def render_system_prompt(self, passages: Sequence[PassageLike], today: str) -> str:
        """The system prompt for a turn with these retrieved ``passages`` (ids ``S1``… in
        order) and ``today``'s ISO date. With a knowledge base, the standard reference block is
        appended unless the template places the passages itself. Raises ``PersonaError`` if
        the template fails (it rendered with samples when parsed, so only a template that
        depends on the passages' content can)."""
        if self.template is None:
            return self.system_prompt
        try:
            return render(
                self.template,
                name=self.name,
                label=self.label,
                passages=passages,
                knowledge=self.knowledge is not None,
                today=today,
            )
        # The template is code the persona's author wrote: any failure is a problem in the file.
        except Exception as exc:
            raise PersonaError((render_error(exc, self.template),)) from exc


def _decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise PersonaError((Problem(path, line, None, message),)) from None


def _front_matter(
    split: Split, path: str, knowledge_bases: Collection[str] | None
) -> tuple[FrontMatter | None, bool, list[Problem]]:
    """The validated fields (``None`` if invalid), whether a knowledge base is named (even in
    invalid fields: the template is checked as it will run), and the problems."""
    if split.front is None:
        return FrontMatter(), False, []
    data, node, problems = load_yaml(split.front, path)
    if not isinstance(data, dict):
        return (FrontMatter() if data is None else None), False, problems
    fields, found = validate_fields(data, node, path)
    problems += found
    if fields is not None and fields.knowledge is not None and knowledge_bases is not None:
        base = fields.knowledge.base
        if base not in knowledge_bases:
            known = ", ".join(sorted(knowledge_bases)) or "none"
            problems.append(
                Problem(
                    path,
                    line_of(node, ["knowledge", "base"], "value"),
                    "knowledge.base",
                    f"no knowledge base {base!r} (prompts/knowledge/{base}/); known: {known}",
                )
            )
    return fields, data.get("knowledge") is not None, problems


def parse_persona(
    persona_id: str,
    raw: bytes,
    source: str,
    *,
    today: str | None = None,
    knowledge_bases: Collection[str] | None = None,
) -> Persona:
    """Parse the bytes of a persona file. ``source`` names the file in problems; ``today``
    (ISO date, default: the local date) is what the template sees while it is checked and in
    ``system_prompt``; ``knowledge_bases``, when given, are the knowledge base names that exist
    (``knowledge.base`` must be one of them). Raises ``PersonaError`` listing every problem."""
    path = source
    if len(raw) > MAX_FILE_BYTES:
        message = f"the file is {len(raw)} bytes; at most {MAX_FILE_BYTES} are allowed"
        raise PersonaError((Problem(path, None, None, message),))
    original = _decode(raw, path)
    split = split_file(original.removeprefix("\ufeff").replace("\r\n", "\n"), path)
    if isinstance(split, Problem):
        raise PersonaError((split,))
    fields, has_knowledge, problems = _front_matter(split, path, knowledge_bases)
    name = (fields.name if fields else None) or persona_id
    label = fields.label if fields else None
    system_prompt = ""
    template: PromptTemplate | None = None
    if not split.body.strip():
        message = "the system prompt (the text after the front matter) is empty"
        problems.append(Problem(path, split.body_line, None, message))
    else:
        template, found = compile_template(split.body, path, split.body_line)
        problems += found
        if template is not None:
            system_prompt, found = check_renders(
                template,
                name=name,
                label=label,
                knowledge=has_knowledge,
                today=today or datetime.date.today().isoformat(),
            )
            problems += found
            if not found and not system_prompt:
                message = "the system prompt renders empty (the text after the front matter)"
                problems.append(Problem(path, split.body_line, None, message))
    if problems or fields is None:
        raise PersonaError(sorted(problems, key=lambda p: p.line or 0))

    knowledge = None
    if fields.knowledge is not None:
        k = fields.knowledge
        knowledge = Knowledge(k.base, k.top_k, k.min_similarity, k.scope, k.refusal)
    t = fields.turn_taking
    return Persona(
        id=persona_id,
        name=name,
        version=hashlib.sha256(raw).hexdigest()[:12],
        system_prompt=system_prompt,
        greeting=fields.greeting,
        vocabulary=tuple(fields.vocabulary),
        avatar=_avatar(fields.avatar) if fields.avatar else None,
        label=label,
        voice=Voice(fields.voice.voice, fields.voice.rate),
        expressions={str(k): str(v) for k, v in fields.expressions.items()},
        turn_taking=TurnTaking(
            t.silence_ms,
            t.min_silence_ms,
            t.max_silence_ms,
            t.echo_guard_ms,
            t.min_speech_ms,
            t.barge_in,
        ),
        knowledge=knowledge,
        source=original,
        template=template,
    )


def _avatar(fields: AvatarFields) -> Avatar:
    inferred: AvatarFormat = "vrm" if urlsplit(fields.url).path.lower().endswith(".vrm") else "glb"
    return Avatar(fields.url, fields.format or inferred)


def parse_avatar(value: object, source: str) -> Avatar:
    """Validate an ``avatar`` value on its own (a URL string or ``{url, format}``); raises
    ``PersonaError`` naming ``source`` and the field."""
    fields, problems = validate_fields({"avatar": value}, None, source)
    if fields is None or fields.avatar is None:
        raise PersonaError(
            problems or (Problem(source, None, "avatar", "must be a URL or a mapping with 'url'"),)
        )
    return _avatar(fields.avatar)
