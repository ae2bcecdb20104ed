"""The system prompt as a sandboxed Jinja2 template.

Templates run in ``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` (a misspelt name is
an error, not an empty string), no autoescaping and no loader (no includes, imports or file
access). ``trim_blocks`` and ``lstrip_blocks`` are on, so a ``{% if %}`` on a line of its own
leaves no blank line behind. Repetition (``'x' * n``) and powers are bounded.

Variables: ``persona`` (``name``, ``label``), ``passages`` (mappings ``id``, ``title``,
``source``, ``text``; sanitised, see agent/grounding.py), ``reference`` (the standard reference
block for those passages, a string), ``knowledge`` (whether the persona has a knowledge base) and
``today`` (ISO date). A template that mentions neither ``passages`` nor ``reference`` gets the
standard block appended when the persona has a knowledge base.

Every template is checked when its file is parsed: statically (syntax, unknown variables,
attributes starting with ``_``, includes) and by rendering it with sample passages and with
none, so a problem in a branch that only runs with passages is still caught.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent.grounding import PassageLike, format_passages, passage_id, sanitise, sanitise_line
from agent.personas.errors import Problem

VARIABLES = frozenset({"persona", "passages", "reference", "knowledge", "today"})
MAX_PROMPT_CHARS = 32_000
"""Longest system prompt a template may render (before the reference block is added)."""
MAX_REPEAT_CHARS = 10_000
_TEMPLATE_FILE = "<template>"  # the file name Jinja gives frames of templates made from strings


class _PromptEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded so a template cannot build huge values."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > MAX_REPEAT_CHARS
                ):
                    raise SecurityError(f"repetition longer than {MAX_REPEAT_CHARS} is not allowed")
        elif operator == "**" and (
            not isinstance(right, int | float) or abs(right) > 64 or abs(left) > 1_000_000
        ):
            raise SecurityError("powers are limited to small numbers")
        return super().call_binop(context, operator, left, right)


_ENV = _PromptEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
del _ENV.globals["lipsum"]  # generates text of any length; nothing a prompt needs


@dataclass(frozen=True, slots=True)
class PassageSample:
    """A stand-in passage for checking templates (and for previews)."""

    chunk_id: str
    source: str
    title: str
    text: str
    similarity: float = 1.0


SAMPLE_PASSAGES: tuple[PassageSample, ...] = (
    PassageSample("sample-1", "handbook.md", "Opening hours", "We are open 9:00 to 17:00."),
    PassageSample("sample-2", "faq.md", "Returns", "Items can be returned within 30 days."),
)


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    template: Template
    places_passages: bool
    """Whether the template itself mentions ``passages`` or ``reference``."""
    path: str
    first_line: int
    """The file line the template starts on (template line 1)."""


def _static_problems(tree: nodes.Template, path: str, first_line: int) -> list[Problem]:
    problems: list[Problem] = []

    def add(node: nodes.Node, message: str) -> None:
        problems.append(Problem(path, first_line + (node.lineno or 1) - 1, None, message))

    for statement in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        add(statement, "templates cannot include, import or extend other files")
    for getattr_node in tree.find_all(nodes.Getattr):
        if getattr_node.attr.startswith("_"):
            add(getattr_node, f"access to the attribute {getattr_node.attr!r} is not allowed")
    for expr in tree.find_all((nodes.Getitem, nodes.Filter)):
        if isinstance(expr, nodes.Getitem):
            key: nodes.Node | None = expr.arg
        elif isinstance(expr, nodes.Filter) and expr.name == "attr" and expr.args:
            key = expr.args[0]
        else:
            continue
        if isinstance(key, nodes.Const) and str(key.value).startswith("_"):
            add(expr, f"access to the attribute {key.value!r} is not allowed")
    unknown = find_undeclared_variables(tree) - VARIABLES - set(_ENV.globals)
    for name in sorted(unknown):
        first = min(
            (n for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"),
            key=lambda n: n.lineno or 0,
        )
        allowed = ", ".join(sorted(VARIABLES))
        add(first, f"unknown variable {name!r}; templates can use {allowed}")
    return problems


def compile_template(
    body: str, path: str, first_line: int
) -> tuple[PromptTemplate | None, list[Problem]]:
    """Parse and check a template body that starts on file line ``first_line``."""
    try:
        tree = _ENV.parse(body)
    except TemplateSyntaxError as exc:
        line = first_line + (exc.lineno or 1) - 1
        return None, [Problem(path, line, None, f"template syntax error: {exc.message}")]
    problems = _static_problems(tree, path, first_line)
    if problems:
        return None, problems
    mentioned = find_undeclared_variables(tree)
    places = bool(mentioned & {"passages", "reference"})
    return PromptTemplate(_ENV.from_string(tree), places, path, first_line), []


def _tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def render_error(exc: Exception, template: PromptTemplate) -> Problem:
    """A failure inside a template, pointing at the file line that raised it."""
    lines = [n for frame, n in traceback.walk_tb(exc.__traceback__) if _is_template(frame)]
    line = template.first_line + lines[-1] - 1 if lines else None
    match exc:
        case SecurityError():
            kind = "not allowed in templates"
        case UndefinedError():
            kind = "undefined in template"
        case _:
            kind = f"template error ({type(exc).__name__})"
    return Problem(template.path, line, None, f"{kind}: {exc}")


def _is_template(frame: Any) -> bool:
    return bool(frame.f_code.co_filename == _TEMPLATE_FILE)


def render(
    template: PromptTemplate,
    *,
    name: str,
    label: str | None,
    passages: Sequence[PassageLike],
    knowledge: bool,
    today: str,
) -> str:
    """Render the system prompt; raises whatever the template raises (see ``render_error``)."""
    reference = format_passages(passages) if knowledge or passages else ""
    text = template.template.render(
        persona={"name": name, "label": label},
        passages=[
            {
                "id": passage_id(i),
                "title": sanitise_line(p.title),
                "source": sanitise_line(p.source),
                "text": sanitise(p.text).strip(),
            }
            for i, p in enumerate(passages)
        ],
        reference=reference,
        knowledge=knowledge,
        today=today,
    )
    text = _tidy(text)
    if knowledge and not template.places_passages:
        text = f"{text}\n\n{reference}" if text else reference
    return text


def check_renders(
    template: PromptTemplate,
    *,
    name: str,
    label: str | None,
    knowledge: bool,
    today: str,
) -> tuple[str, list[Problem]]:
    """Render once with ``SAMPLE_PASSAGES`` and once with none; the rendering with none (the
    system prompt of a turn without passages) and the problems found."""
    problems: list[Problem] = []
    prompt = ""
    for passages in (SAMPLE_PASSAGES, ()):
        try:
            prompt = render(
                template,
                name=name,
                label=label,
                passages=passages,
                knowledge=knowledge,
                today=today,
            )
        # The template is code the persona's author wrote: any failure is a problem in the file.
        except Exception as exc:
            problem = render_error(exc, template)
            if problem not in problems:
                problems.append(problem)
            continue
        limit = MAX_PROMPT_CHARS + (len(format_passages(passages)) if knowledge else 0)
        too_long = Problem(
            template.path,
            template.first_line,
            None,
            f"the rendered system prompt is {len(prompt)} characters long; "
            f"at most {MAX_PROMPT_CHARS} are allowed",
        )
        if len(prompt) > limit and too_long not in problems:
            problems.append(too_long)
    return prompt, problems
