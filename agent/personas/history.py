"""The history of persona files: every version that was live, and who changed what, when, why.

One folder per persona under the history folder (``prompts/.history/<id>/`` by default):

- ``<version>.md``: the exact text of each version (content-addressed: the name is the first 12
  hex digits of the SHA-256 of the bytes, the persona's ``version``);
- ``changes.jsonl``: append-only, one JSON object per change, oldest first::

    {"persona": "ada", "version": "3f2a9c1b7d0e", "previous_version": "91c0d4e2aa17",
     "label": "spring-launch", "who": "maria", "at": "2025-04-01T09:30:00.000Z",
     "message": "shorter greeting", "diff": "--- a/ada.md\\n+++ b/ada.md\\n@@ ..."}

Writers in several processes are serialised by an advisory lock (``flock``) on ``.lock`` in the
persona's folder; a line that cannot be read (a torn write) is skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import fcntl
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VERSION_PATTERN = re.compile(r"^[0-9a-f]{12}$")
CHANGES_FILE = "changes.jsonl"


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change of a persona file. ``previous_version`` is ``None`` for the first
    version recorded; ``diff`` is a unified diff from the previous version's text (empty text
    for the first) to this one, with the file names ``a/<id>.md`` and ``b/<id>.md``."""

    persona: str
    version: str
    previous_version: str | None
    label: str | None
    who: str
    at: dt.datetime
    message: str
    diff: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``at`` as ISO-8601 UTC with milliseconds and ``Z``."""
        return {
            "persona": self.persona,
            "version": self.version,
            "previous_version": self.previous_version,
            "label": self.label,
            "who": self.who,
            "at": iso_utc(self.at),
            "message": self.message,
            "diff": self.diff,
        }

    def to_json(self) -> str:
        """One line of ``changes.jsonl``."""
        return json.dumps(self.as_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Change:
        """Raises ``ValueError`` (or ``KeyError``/``TypeError``) for a line that is not one."""
        data = json.loads(line)
        return cls(
            persona=str(data["persona"]),
            version=str(data["version"]),
            previous_version=data["previous_version"],
            label=data["label"],
            who=str(data["who"]),
            at=dt.datetime.fromisoformat(data["at"]),
            message=str(data["message"]),
            diff=str(data["diff"]),
        )


def unified_diff(persona_id: str, old: str, new: str) -> str:
    """A unified diff of two versions of ``<persona_id>.md`` (git's marker for a missing final
    newline included)."""
    lines: list[str] = []
    for line in difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{persona_id}.md",
        tofile=f"b/{persona_id}.md",
    ):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def iso_utc(at: dt.datetime) -> str:
    """``2025-04-01T09:30:00.000Z``; a naive time is taken to be UTC already."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PersonaHistory:
    """Reads and appends the history of personas in ``folder`` (created when first written)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._thread_lock = threading.RLock()
        self._held: dict[str, tuple[int, int]] = {}  # persona -> (lock fd, depth)

    def _dir(self, persona_id: str) -> Path:
        return self.folder / persona_id

    @contextlib.contextmanager
    def locked(self, persona_id: str) -> Iterator[None]:
        """Hold the persona's history lock (re-entrant in this process; ``flock`` across
        processes). Raises ``OSError`` if the folder cannot be created."""
        with self._thread_lock:
            fd, depth = self._held.get(persona_id, (-1, 0))
            if depth == 0:
                self._dir(persona_id).mkdir(parents=True, exist_ok=True)
                fd = os.open(self._dir(persona_id) / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._held[persona_id] = (fd, depth + 1)
            try:
                yield
            finally:
                fd, depth = self._held.pop(persona_id)
                if depth > 1:
                    self._held[persona_id] = (fd, depth - 1)
                else:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)

    def changes(self, persona_id: str) -> list[Change]:
        """Every recorded change, newest first."""
        try:
            text = (self._dir(persona_id) / CHANGES_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found: list[Change] = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.append(Change.from_json(line))
        found.reverse()
        return found

    def last(self, persona_id: str) -> Change | None:
        changes = self.changes(persona_id)
        return changes[0] if changes else None

    def source(self, persona_id: str, version: str) -> str | None:
        """The text of a recorded version, or ``None``."""
        if not VERSION_PATTERN.fullmatch(version):
            return None
        try:
            return (self._dir(persona_id) / f"{version}.md").read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None

    def save_version(self, persona_id: str, version: str, text: str) -> None:
        """Store a version's text (once; versions are content-addressed)."""
        if not VERSION_PATTERN.fullmatch(version):
            raise ValueError(f"not a version: {version!r}")
        path = self._dir(persona_id) / f"{version}.md"
        if not path.exists():
            write_atomically(path, text.encode("utf-8"))

    def append(self, change: Change) -> None:
        """Append a change to the persona's ``changes.jsonl`` (call under ``locked``)."""
        path = self._dir(change.persona) / CHANGES_FILE
        with path.open("a", encoding="utf-8") as file:
            file.write(change.to_json() + "\n")
            file.flush()
            os.fsync(file.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a hidden temporary file beside ``path``, then rename it over ``path``:
    a reader sees the old file or the new one, never a part. An existing file's permissions
    are kept."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temp.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, path.stat().st_mode & 0o7777)  # keep the file's permissions
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
