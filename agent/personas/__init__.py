"""Personas: who the avatar is. One file per persona in the prompts folder, ``<id>.md``.

A file is YAML front matter between ``---`` lines (name, label, greeting, voice, avatar,
expressions, turn_taking, knowledge, vocabulary) followed by the system prompt as a sandboxed
Jinja2 template. prompts/README.md documents every field for the people who edit these files.

- ``parse_persona`` (pure) turns a file's bytes into a ``Persona`` or raises ``PersonaError``
  listing every ``Problem`` with its file, line and field.
- ``PersonaLibrary`` serves a folder of them: hot reload that keeps the last good version when a
  file turns invalid, validated atomic writes with optimistic locking (``VersionConflict``), and
  a history of every version (``Change``) with rollback.
"""

from agent.personas.errors import PersonaError, Problem, VersionConflict
from agent.personas.history import Change
from agent.personas.library import PersonaEntry, PersonaLibrary
from agent.personas.model import (
    Avatar,
    AvatarFormat,
    Knowledge,
    Persona,
    TurnTaking,
    Voice,
    parse_avatar,
    parse_persona,
)
from agent.personas.template import SAMPLE_PASSAGES, VARIABLES

__all__ = [
    "SAMPLE_PASSAGES",
    "VARIABLES",
    "Avatar",
    "AvatarFormat",
    "Change",
    "Knowledge",
    "Persona",
    "PersonaEntry",
    "PersonaError",
    "PersonaLibrary",
    "Problem",
    "TurnTaking",
    "VersionConflict",
    "Voice",
    "parse_avatar",
    "parse_persona",
]
