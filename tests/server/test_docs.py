"""The documentation agrees with the code: generated files are fresh, examples and tables are true.

When one of these fails after a change to server/protocol/ or server/settings.py, run
``make docs`` and update docs/protocol.md by hand where it describes the change.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest

from server.protocol.errors import SPECS, ErrorCode
from server.protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    ServerMessage,
    client_message_adapter,
    server_message_adapter,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PROTOCOL_MD = DOCS / "protocol.md"

SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    model.model_fields["type"].default for model in get_args(get_args(ServerMessage)[0])
)


def _load_gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_docs = _load_gen_docs()


def _protocol_md() -> str:
    return PROTOCOL_MD.read_text(encoding="utf-8")


def _json_examples() -> list[tuple[int, str]]:
    """Every ```json block of docs/protocol.md, with the line it starts on."""
    text = _protocol_md()
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in re.finditer(r"^```json\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    ]


def _table_rows(heading: str) -> list[list[str]]:
    """Body rows of the first table under ``## heading`` in docs/protocol.md, cells stripped."""
    section = _protocol_md().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


# ── generated files ────────────────────────────────────────────────────────


def test_schema_file_matches_models() -> None:
    committed = (DOCS / "protocol.schema.json").read_text(encoding="utf-8")
    assert committed == gen_docs.render_schema(), "docs/protocol.schema.json is stale: make docs"


def test_schema_references_resolve_within_the_file() -> None:
    document = json.loads(gen_docs.render_schema())
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            assert part in target, f"{ref} does not resolve"
            target = target[part]


def test_configuration_file_matches_settings() -> None:
    committed = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert committed == gen_docs.render_configuration(), "docs/configuration.md is stale: make docs"


def test_configuration_names_nested_variables_with_double_underscore() -> None:
    text = gen_docs.render_configuration()
    for variable in ("AVATAR_HOST", "AVATAR_LLM__ENGINE", "AVATAR_CONNECTION__ALLOWED_ORIGINS"):
        assert f"| `{variable}` |" in text


# ── examples in protocol.md ───────────────────────────────────────────────


@pytest.mark.parametrize(
    "block", [pytest.param(block, id=f"protocol.md:{line}") for line, block in _json_examples()]
)
def test_protocol_example_is_a_valid_message(block: str) -> None:
    data = json.loads(block)
    assert isinstance(data, dict) and isinstance(data.get("type"), str)
    if data["type"] in CLIENT_MESSAGE_TYPES:
        client_message_adapter.validate_python(data)
    else:
        assert data["type"] in SERVER_EVENT_TYPES, f"unknown message type {data['type']!r}"
        server_message_adapter.validate_python(data)


def test_every_message_type_has_an_example() -> None:
    documented = {json.loads(block)["type"] for _, block in _json_examples()}
    missing = (set(CLIENT_MESSAGE_TYPES) | SERVER_EVENT_TYPES) - documented
    assert not missing, f"docs/protocol.md has no example of {sorted(missing)}"


# ── tables in protocol.md ─────────────────────────────────────────────────


def test_error_table_matches_error_specs() -> None:
    rows = _table_rows("Error codes")
    documented = {row[0].strip("`"): row[1:] for row in rows}
    assert len(documented) == len(rows), "a code appears twice in the error table"
    assert set(documented) == {code.value for code in ErrorCode}
    for code, spec in SPECS.items():
        retryable, close_code, meaning = documented[code.value]
        assert retryable == ("yes" if spec.retryable else "no"), code
        assert close_code == ("—" if spec.close_code is None else str(spec.close_code)), code
        assert meaning == spec.meaning, code


def test_close_code_table_lists_every_close_code_errors_use() -> None:
    documented = {row[0] for row in _table_rows("WebSocket close codes")}
    used = {str(spec.close_code) for spec in SPECS.values() if spec.close_code is not None}
    assert used <= documented, f"close codes missing from the table: {sorted(used - documented)}"
