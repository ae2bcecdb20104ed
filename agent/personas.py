"""Personas: who the avatar is. One Markdown file per persona in the prompts folder.

A file is YAML front matter (``name``, ``greeting``, ``vocabulary``: words speech recognition
should expect, such as product names; ``avatar``: the 3D model the browser shows) between ``---``
lines, followed by the system prompt. The version is a hash of the file's bytes, so a session can
record exactly which text (and avatar) it was started with.

``avatar`` is a URL, or a mapping ``{url, format}``::

    avatar: /avatars/ada.vrm                 # format inferred: .vrm -> vrm, anything else -> glb
    avatar: {url: https://cdn.example.com/ada.glb, format: glb}

The URL is absolute (``http(s)://``) or a path on the avatar server (``/avatars/...``, files of
the server's avatars folder). ``format`` is ``glb`` (glTF binary), ``vrm`` (VRM 0.x/1.0) or
``default`` (no declared format: the client detects it); when omitted it is inferred from the
URL, ``.vrm`` giving ``vrm`` and anything else ``glb``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MAX_URL_CHARS = 2048
AvatarFormat = Literal["default", "glb", "vrm"]


class PersonaError(ValueError):
    """A persona file is missing or invalid; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Avatar:
    """The 3D model of a persona: where the browser loads it from, and how to read it."""

    url: str
    format: AvatarFormat


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    name: str
    version: str
    system_prompt: str
    greeting: str | None
    vocabulary: tuple[str, ...] = ()
    avatar: Avatar | None = None


def parse_avatar(value: object, source: str) -> Avatar:
    """Validate the front matter's ``avatar`` value (a URL string or ``{url, format}``)."""
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict):
        raise PersonaError(f"{source}: field 'avatar' must be a URL or a mapping with 'url'")
    unknown = sorted(str(k) for k in value if k not in ("url", "format"))
    if unknown:
        raise PersonaError(
            f"{source}: field 'avatar' has unknown key(s) {', '.join(map(repr, unknown))}; "
            "it takes 'url' and 'format'"
        )
    url = value.get("url")
    if not isinstance(url, str) or not url.strip():
        raise PersonaError(f"{source}: field 'avatar.url' must be a non-empty string")
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > _MAX_URL_CHARS or any(c.isspace() or not c.isprintable() for c in url):
        raise PersonaError(
            f"{source}: field 'avatar.url' must be a URL of at most {_MAX_URL_CHARS} characters "
            "without spaces"
        )
    absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
    server_path = not parts.scheme and not parts.netloc and url.startswith("/")
    if not (absolute or server_path):
        raise PersonaError(
            f"{source}: field 'avatar.url' must be an http(s) URL or a path starting with '/' "
            f"on this server (e.g. /avatars/ada.glb), not {url!r}"
        )
    fmt = value.get("format")
    match fmt:
        case None:
            return Avatar(url, "vrm" if parts.path.lower().endswith(".vrm") else "glb")
        case "default" | "glb" | "vrm":
            return Avatar(url, fmt)
    raise PersonaError(
        f"{source}: field 'avatar.format' must be 'glb', 'vrm' or 'default', not {fmt!r}"
    )


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
    avatar = parse_avatar(meta["avatar"], source) if meta.get("avatar") is not None else None
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
        avatar,
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
