"""The personas of a folder: current versions, hot reload, safe edits and their history.

``get`` re-reads a file when its modification time or size changed. A file that turns invalid
does not take its persona down: the last good version keeps being served to new sessions and the
problems are kept for ``problems``/``entries`` (only a file that was never valid raises). Every
valid version seen is recorded in the history, including edits made to the file directly
(``who="file"``), so each one can be rolled back to. Recording on a read is best effort: where the
history folder cannot be written, reads carry on and ``history_error`` says why.

``write`` is the editing path: it validates the new text, refuses it if the file moved on from
the version the editor started from (``VersionConflict``), writes atomically and records who
changed what and why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.personas.errors import PersonaError, Problem, VersionConflict
from agent.personas.front_matter import ID_PATTERN
from agent.personas.history import (
    VERSION_PATTERN,
    Change,
    PersonaHistory,
    iso_utc,
    unified_diff,
    utc_now,
    write_atomically,
)
from agent.personas.model import Persona, parse_persona

log = logging.getLogger(__name__)

_ID = re.compile(ID_PATTERN)
_MAX_WHO_CHARS = 200
_MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class PersonaEntry:
    """The state of one persona file, for an editor's overview."""

    id: str
    name: str | None
    """Of the version served; ``None`` when the file was never valid."""
    version: str | None
    """The version served to new sessions (the last good one)."""
    label: str | None
    valid: bool
    """Whether the file on disk is valid (else the last good version is served, if any)."""
    problems: tuple[Problem, ...]
    modified: dt.datetime
    """The file's modification time (UTC)."""
    file_version: str
    """The version of the file on disk (differs from ``version`` while the file is invalid)."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``modified`` as ISO-8601 UTC, problems as mappings."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "label": self.label,
            "valid": self.valid,
            "problems": [
                {"path": p.path, "line": p.line, "field": p.field, "message": p.message}
                for p in self.problems
            ],
            "modified": iso_utc(self.modified),
            "file_version": self.file_version,
        }


@dataclass(frozen=True, slots=True)
class _State:
    key: tuple[int, int]  # (mtime_ns, size) of the file when read
    good: Persona | None
    problems: tuple[Problem, ...]
    file_version: str
    modified: float
    bases: frozenset[str]  # the knowledge bases that existed when the file was parsed


def _version(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:12]


def _check_who(who: str) -> str:
    who = who.strip()
    if not who or len(who) > _MAX_WHO_CHARS or "\n" in who or "\r" in who:
        raise PersonaError(f"who must be one line of 1 to {_MAX_WHO_CHARS} characters")
    return who


def _check_message(message: str) -> str:
    message = message.strip()
    if len(message) > _MAX_MESSAGE_CHARS:
        raise PersonaError(f"message must be at most {_MAX_MESSAGE_CHARS} characters")
    return message


class PersonaLibrary:
    """Personas read from ``folder`` (``<id>.md`` files).

    ``history_dir`` (default ``<folder>/.history``) keeps the versions and changes;
    ``history=False`` keeps none (``changes`` is empty, ``write`` still works).
    ``knowledge_dir`` (default ``<folder>/knowledge``) holds the knowledge bases a persona may
    name. ``clock`` stamps changes (UTC); ``today`` gives the ISO date templates see while a
    file is checked. Thread-safe.
    """

    def __init__(
        self,
        folder: Path,
        *,
        history: bool = True,
        history_dir: Path | None = None,
        knowledge_dir: Path | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        today: Callable[[], str] = lambda: dt.date.today().isoformat(),
    ) -> None:
        self._folder = folder
        self._history = PersonaHistory(history_dir or folder / ".history") if history else None
        self._knowledge_dir = knowledge_dir or folder / "knowledge"
        self._clock = clock
        self._today = today
        self._lock = threading.RLock()
        self._states: dict[str, _State] = {}
        self.history_error: str | None = None
        """Why the history could not be written on the last read that tried, if it failed."""

    # ── reading ────────────────────────────────────────────────────────────────────────────

    def ids(self) -> list[str]:
        """The persona ids in the folder, sorted (``README.md``, hidden files and names that are
        not valid ids are skipped)."""
        return sorted(
            path.stem
            for path in self._folder.glob("*.md")
            if not path.name.startswith(".")
            and path.stem.lower() != "readme"
            and _ID.fullmatch(path.stem)
            and path.is_file()
        )

    def get(self, persona_id: str) -> Persona:
        """The current valid version of a persona. Raises ``PersonaError`` if the id is not a
        valid name, the file does not exist, or it has never been valid."""
        state = self._refresh(persona_id)
        if state.good is None:
            raise PersonaError(state.problems)
        return state.good

    def problems(self, persona_id: str) -> tuple[Problem, ...]:
        """What is wrong with the file on disk now (empty when it is valid)."""
        return self._refresh(persona_id).problems

    def entries(self) -> list[PersonaEntry]:
        """The state of every persona file, by id."""
        return [e for e in map(self.entry, self.ids()) if e is not None]

    def entry(self, persona_id: str) -> PersonaEntry | None:
        """The state of one persona file; ``None`` if there is no such file. Raises
        ``PersonaError`` for an id that is not a valid name."""
        try:
            state = self._refresh(persona_id)
        except PersonaError:
            self._check_id(persona_id)
            return None
        good = state.good
        return PersonaEntry(
            id=persona_id,
            name=good.name if good else None,
            version=good.version if good else None,
            label=good.label if good else None,
            valid=not state.problems,
            problems=state.problems,
            modified=dt.datetime.fromtimestamp(state.modified, dt.UTC),
            file_version=state.file_version,
        )

    def file_source(self, persona_id: str) -> str:
        """The text of the file on disk now, valid or not (what an editor starts from; its
        version is ``entry(persona_id).file_version``)."""
        self._check_id(persona_id)
        try:
            return self._path(persona_id).read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            raise PersonaError(f"persona {persona_id!r} not found in {self._folder}") from None

    def parse_source(self, persona_id: str, text: str) -> Persona:
        """Validate a draft of ``<persona_id>.md`` without writing anything (for previews and
        editors). Raises ``PersonaError`` with every problem."""
        self._check_id(persona_id)
        return parse_persona(
            persona_id,
            text.encode("utf-8"),
            str(self._path(persona_id)),
            today=self._today(),
            knowledge_bases=self._knowledge_bases(),
        )

    # ── history ────────────────────────────────────────────────────────────────────────────

    def changes(self, persona_id: str) -> list[Change]:
        """The recorded changes of a persona, newest first (an edit on disk not yet seen is
        recorded first)."""
        self._check_id(persona_id)
        self._refresh_if_present(persona_id)
        return self._history.changes(persona_id) if self._history else []

    def source(self, persona_id: str, version: str) -> str:
        """The text of any recorded version of a persona, or of the file on disk."""
        self._check_id(persona_id)
        if VERSION_PATTERN.fullmatch(version):
            try:
                raw = self._path(persona_id).read_bytes()
            except FileNotFoundError:
                raw = b""
            if raw and _version(raw) == version:
                return raw.decode("utf-8", errors="replace")
            text = self._history.source(persona_id, version) if self._history else None
            if text is not None:
                return text
        raise PersonaError(f"persona {persona_id!r} has no version {version!r}")

    def version_source(self, persona_id: str, version: str) -> str:
        """Same as ``source``."""
        return self.source(persona_id, version)

    def write(
        self,
        persona_id: str,
        text: str,
        *,
        who: str,
        message: str,
        expected_version: str | None = None,
    ) -> Change:
        """Save a new version of ``<persona_id>.md`` (creating it if needed) and record it.

        ``text`` is validated first (``PersonaError`` with every problem; nothing is written).
        ``who`` (one line) and ``message`` (may be empty) are recorded with the change.
        ``expected_version`` is the version of the file the editor started from: if the file
        is at another version now (or does not exist), ``VersionConflict`` is raised; ``None``
        skips the check. The file is replaced atomically. Saving the text the file already has
        changes nothing and returns the change that recorded that version.
        """
        self._check_id(persona_id)
        who = _check_who(who)
        message = _check_message(message)
        persona = self.parse_source(persona_id, text)
        path = self._path(persona_id)
        with self._lock, self._history_lock(persona_id):
            try:
                on_disk: bytes | None = path.read_bytes()
            except FileNotFoundError:
                on_disk = None
            current = _version(on_disk) if on_disk is not None else None
            if expected_version is not None and expected_version != current:
                raise VersionConflict(str(path), expected_version, current)
            self._refresh_if_present(persona_id)  # records an edit made on disk meanwhile
            last = self._history.last(persona_id) if self._history else None
            if current == persona.version and last is not None and last.version == current:
                return last
            if last is not None:
                previous_text = self._previous_text(persona_id, last)
            else:
                previous_text = (on_disk or b"").decode("utf-8", errors="replace")
            change = Change(
                persona=persona_id,
                version=persona.version,
                previous_version=last.version if last else current,
                label=persona.label,
                who=who,
                at=self._clock(),
                message=message,
                diff=unified_diff(persona_id, previous_text, text),
            )
            if self._history is not None:
                self._history.save_version(persona_id, persona.version, text)
            write_atomically(path, text.encode("utf-8"))
            if self._history is not None:
                self._history.append(change)
            stat = path.stat()
            self._states[persona_id] = _State(
                (stat.st_mtime_ns, stat.st_size),
                persona,
                (),
                persona.version,
                stat.st_mtime,
                self._knowledge_bases(),
            )
        return change

    def rollback(self, persona_id: str, version: str, *, who: str, message: str) -> Change:
        """Make a recorded version current again, as a new change."""
        return self.write(persona_id, self.source(persona_id, version), who=who, message=message)

    # ── internals ──────────────────────────────────────────────────────────────────────────

    def _check_id(self, persona_id: str) -> None:
        if not _ID.fullmatch(persona_id):
            raise PersonaError(f"persona id {persona_id!r} is not a valid name")

    def _path(self, persona_id: str) -> Path:
        return self._folder / f"{persona_id}.md"

    def _knowledge_bases(self) -> frozenset[str]:
        try:
            return frozenset(
                p.name
                for p in self._knowledge_dir.iterdir()
                if p.is_dir() and not p.name.startswith(".")
            )
        except (FileNotFoundError, NotADirectoryError):
            return frozenset()

    def _history_lock(self, persona_id: str) -> contextlib.AbstractContextManager[None]:
        return self._history.locked(persona_id) if self._history else contextlib.nullcontext()

    def _previous_text(self, persona_id: str, last: Change | None) -> str:
        if last is None or self._history is None:
            return ""
        return self._history.source(persona_id, last.version) or ""

    def _refresh_if_present(self, persona_id: str) -> None:
        with contextlib.suppress(PersonaError):  # no file: nothing to record
            self._refresh(persona_id)

    def _refresh(self, persona_id: str) -> _State:
        self._check_id(persona_id)
        path = self._path(persona_id)
        with self._lock:
            state = self._states.get(persona_id)
            try:
                with path.open("rb") as file:
                    stat = os.fstat(file.fileno())
                    key = (stat.st_mtime_ns, stat.st_size)
                    # An invalid file is checked again once the knowledge bases change (the base
                    # it names may have been created since).
                    if (
                        state is not None
                        and state.key == key
                        and (not state.problems or state.bases == self._knowledge_bases())
                    ):
                        return state
                    raw = file.read()
            except (FileNotFoundError, IsADirectoryError):
                self._states.pop(persona_id, None)
                raise PersonaError(f"persona {persona_id!r} not found in {self._folder}") from None
            bases = self._knowledge_bases()
            last_good = state.good if state else None
            try:
                persona = parse_persona(
                    persona_id,
                    raw,
                    str(path),
                    today=self._today(),
                    knowledge_bases=bases,
                )
            except PersonaError as exc:
                state = _State(key, last_good, exc.problems, _version(raw), stat.st_mtime, bases)
            else:
                state = _State(key, persona, (), persona.version, stat.st_mtime, bases)
                self._record_seen(persona)
            self._states[persona_id] = state
            return state

    def _record_seen(self, persona: Persona) -> None:
        """Record a valid version found on disk, unless it is the last one recorded."""
        if self._history is None:
            return
        try:
            with self._history.locked(persona.id):
                last = self._history.last(persona.id)
                if last is not None and last.version == persona.version:
                    return
                self._history.save_version(persona.id, persona.version, persona.source)
                self._history.append(
                    Change(
                        persona=persona.id,
                        version=persona.version,
                        previous_version=last.version if last else None,
                        label=persona.label,
                        who="file",
                        at=self._clock(),
                        message="initial" if last is None else "edited in the file",
                        diff=unified_diff(
                            persona.id, self._previous_text(persona.id, last), persona.source
                        ),
                    )
                )
        except OSError as exc:
            self.history_error = f"{type(exc).__name__}: {exc}"
            log.warning("persona history not written for %s: %s", persona.id, exc)
