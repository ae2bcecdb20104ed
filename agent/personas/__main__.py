"""Check and preview persona files from the command line, without a server.

    python -m agent.personas check [FILE ...]      # every persona in prompts/ when no FILE
    python -m agent.personas render FILE [--passages sample|none] [--today 2025-04-01]

``check`` prints each file's problems (``file:line: field: message``) or its version, and exits
with 1 when any file has problems. ``render`` prints the system prompt the model would get,
with two sample passages or none. Nothing is written (no history either).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.personas.errors import PersonaError
from agent.personas.library import PersonaLibrary
from agent.personas.model import Persona
from agent.personas.template import SAMPLE_PASSAGES


def _parse(path: Path) -> Persona:
    library = PersonaLibrary(path.parent, history=False)
    return library.parse_source(path.stem, path.read_bytes().decode("utf-8", errors="replace"))


def _check(files: Sequence[Path]) -> int:
    failed = False
    for path in files:
        try:
            persona = _parse(path)
        except PersonaError as exc:
            failed = True
            print(exc)
        except OSError as exc:
            failed = True
            print(f"{path}: {exc.strerror or exc}")
        else:
            print(f"{path}: ok, version {persona.display_version}")
    return 1 if failed else 0


def _render(path: Path, passages: str, today: str) -> int:
    try:
        persona = _parse(path)
        print(persona.render_system_prompt(SAMPLE_PASSAGES if passages == "sample" else (), today))
    except PersonaError as exc:
        print(exc)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.personas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate persona files")
    check.add_argument("files", nargs="*", type=Path)
    check.add_argument("--folder", type=Path, default=Path("prompts"), help="default: prompts")
    render = commands.add_parser("render", help="print the system prompt of a persona file")
    render.add_argument("file", type=Path)
    render.add_argument("--passages", choices=["sample", "none"], default="sample")
    render.add_argument("--today", default=dt.date.today().isoformat())
    args = parser.parse_args(argv)
    if args.command == "check":
        files = args.files or [
            args.folder / f"{i}.md" for i in PersonaLibrary(args.folder, history=False).ids()
        ]
        return _check(files)
    return _render(args.file, args.passages, args.today)


if __name__ == "__main__":
    sys.exit(main())
