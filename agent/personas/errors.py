"""The problems a persona file can have, and the errors that carry them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a persona file.

    ``path`` names the file, ``line`` is 1-based in the whole file (front matter included),
    ``field`` is a dotted front matter path such as ``turn_taking.silence_ms`` or
    ``vocabulary[2]`` (``None`` for the template body or the file as a whole).
    """

    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None and self.path else self.path
        return ": ".join(part for part in (where, self.field or "", self.message) if part)


class PersonaError(ValueError):
    """A persona is missing or invalid. ``problems`` lists everything found, in file order;
    ``str()`` gives one problem per line, e.g.
    ``prompts/ada.md:7: turn_taking.silence_ms: Input should be greater than or equal to 200``.

    Constructed from a plain message, it holds one problem with that message and no location.
    """

    def __init__(self, problems: str | Iterable[Problem]) -> None:
        if isinstance(problems, str):
            problems = (Problem("", None, None, problems),)
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


class VersionConflict(PersonaError):
    """A write named the version it edited (``expected_version``), but the file on disk is at
    another version now: someone else saved in between. Re-read, merge and retry."""

    def __init__(self, path: str, expected: str, actual: str | None) -> None:
        self.expected = expected
        self.actual = actual
        found = f"is at version {actual}" if actual else "does not exist"
        super().__init__(
            (Problem(path, None, None, f"expected version {expected}, but the file {found}"),)
        )
