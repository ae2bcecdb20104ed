"""Personas: who the avatar is. One Markdown file per persona in the prompts folder.

A file is YAML front matter (``name``, ``greeting``, ``vocabulary``: words speech recognition
should expect, such as product names) between ``---`` lines, followed by the system prompt.
The version is a hash of the file's bytes, so a session can record exactly which text it was
started with.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class PersonaError(ValueError):
    """A persona file is missing or invalid; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    name: str
    version: str
    system_prompt: str
    greeting: str | None
    vocabulary: tuple[str, ...] = ()


def parse_persona(persona_id: str, raw: bytes, source: str) -> Persona:
    """Parse the bytes of a persona file. ``source`` names the file in error messages."""
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise PersonaError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    meta: dict[str, object] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end < 0:
            raise PersonaError(f"{source}: front matter is not closed with '---'")
        try:
            loaded = yaml.safe_load(text[4:end]) or {}
        except yaml.YAMLError as exc:
            raise PersonaError(f"{source}: invalid YAML front matter: {exc}") from None
        if not isinstance(loaded, dict):
            raise PersonaError(f"{source}: front matter must be a mapping")
        meta = loaded
        body = text[end + 5 :]
    name = meta.get("name", persona_id)
    greeting = meta.get("greeting")
    if not isinstance(name, str) or not name.strip():
        raise PersonaError(f"{source}: field 'name' must be a non-empty string")
    if greeting is not None and not isinstance(greeting, str):
        raise PersonaError(f"{source}: field 'greeting' must be a string")
    vocabulary = meta.get("vocabulary", [])
    if not isinstance(vocabulary, list) or not all(isinstance(w, str) for w in vocabulary):
        raise PersonaError(f"{source}: field 'vocabulary' must be a list of strings")
    system_prompt = body.strip()
    if not system_prompt:
        raise PersonaError(f"{source}: the system prompt (text after the front matter) is empty")
    version = hashlib.sha256(raw).hexdigest()[:12]
    return Persona(
        persona_id,
        name.strip(),
        version,
        system_prompt,
        greeting,
        tuple(w.strip() for w in vocabulary),
    )


class PersonaLibrary:
    """Reads personas from a folder, re-reading a file only when it changed on disk."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._cache: dict[str, tuple[int, Persona]] = {}

    def get(self, persona_id: str) -> Persona:
        """Return the current version of a persona; raises ``PersonaError``."""
        if not _ID.fullmatch(persona_id):
            raise PersonaError(f"persona id {persona_id!r} is not a valid name")
        path = self._folder / f"{persona_id}.md"
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise PersonaError(f"persona {persona_id!r} not found in {self._folder}") from None
        cached = self._cache.get(persona_id)
        if cached and cached[0] == mtime:
            return cached[1]
        persona = parse_persona(persona_id, path.read_bytes(), str(path))
        self._cache[persona_id] = (mtime, persona)
        return persona
