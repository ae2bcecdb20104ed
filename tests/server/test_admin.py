"""server/admin.py: auth, list/read/validate/update/history/rollback, preview, error shapes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.llm.protocols import GenerationParams
from agent.personas import PersonaLibrary
from server.admin import AdminError, admin_error_handler, admin_router, preview_runner
from tests.fakes import ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "alice-token-0123456789"
BOB = "bob-token-abcdefghijkl"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    shutil.copy(ROOT / "prompts" / "default.md", folder / "default.md")
    return folder


@pytest.fixture
def library(prompts: Path) -> PersonaLibrary:
    return PersonaLibrary(prompts)


def make_client(library: PersonaLibrary, tokens: dict[str, str]) -> TestClient:
    app = FastAPI()
    preview = preview_runner(
        ScriptedLLM(lambda messages: [messages[0].content.splitlines()[0]]),
        None,
        GenerationParams(32, 0.0),
        2000,
        5.0,
    )
    app.include_router(admin_router(library, tokens, preview, lambda: [{"name": "acme"}]))
    app.add_exception_handler(AdminError, admin_error_handler)
    return TestClient(app)


@pytest.fixture
def client(library: PersonaLibrary) -> TestClient:
    return make_client(library, {"alice": TOKEN, "bob": BOB})


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "admin_token_missing"),
        ({"Authorization": "Basic abc"}, "admin_token_missing"),
        ({"Authorization": "Bearer wrong-token-0123456789"}, "admin_token_invalid"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "admin_token_invalid"),
    ],
)
def test_every_route_needs_a_valid_bearer_token(
    client: TestClient, headers: dict[str, str], code: str
) -> None:
    for method, path in [
        ("GET", "/v1/admin/personas"),
        ("GET", "/v1/admin/personas/default"),
        ("GET", "/v1/admin/personas/default/history"),
        ("GET", "/v1/admin/knowledge"),
    ]:
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert error(response)["code"] == code
        assert response.headers["www-authenticate"] == "Bearer"
    response = client.put("/v1/admin/personas/default", json={"source": "x"}, headers=headers)
    assert response.status_code == 401


def test_without_configured_tokens_the_admin_api_is_disabled(library: PersonaLibrary) -> None:
    response = make_client(library, {}).get("/v1/admin/personas", headers=AUTH)
    assert response.status_code == 503
    assert error(response)["code"] == "admin_disabled"


def test_list_and_read(client: TestClient, prompts: Path) -> None:
    listed = client.get("/v1/admin/personas", headers=AUTH).json()["personas"]
    assert [p["id"] for p in listed] == ["default"]
    assert listed[0]["valid"] is True
    read = client.get("/v1/admin/personas/default", headers=AUTH).json()
    assert read["source"] == (prompts / "default.md").read_text()
    assert read["version"] == listed[0]["version"]
    for name in ("nobody", "Bad%20Id", "a.b"):
        missing = client.get(f"/v1/admin/personas/{name}", headers=AUTH)
        assert missing.status_code == 404 and error(missing)["code"] == "persona_not_found"


def test_validate_names_the_line_and_field_of_each_problem(client: TestClient) -> None:
    source = "---\nname: Ada\nturn_taking:\n  silence_ms: 5\ncolour: red\n---\nHello {{ nope }\n"
    body = client.post(
        "/v1/admin/personas/default/validate", json={"source": source}, headers=AUTH
    ).json()
    assert body["valid"] is False
    found = {(p["line"], p["field"]) for p in body["problems"]}
    assert (4, "turn_taking.silence_ms") in found
    assert (5, "colour") in found
    assert any(p["line"] == 7 for p in body["problems"])  # the template's syntax error
    ok = client.post(
        "/v1/admin/personas/default/validate",
        json={"source": "---\nname: Ada\n---\nYou are Ada.\n"},
        headers=AUTH,
    ).json()
    assert ok == {"valid": True, "problems": [], "version": ok["version"]}


def test_update_records_who_when_and_the_diff_and_detects_conflicts(
    client: TestClient, prompts: Path
) -> None:
    before = client.get("/v1/admin/personas/default", headers=AUTH).json()
    edited = before["source"].replace("friendly", "cheerful")
    saved = client.put(
        "/v1/admin/personas/default",
        json={"source": edited, "expected_version": before["version"], "message": "tone"},
        headers=AUTH,
    )
    assert saved.status_code == 200, saved.text
    change = saved.json()["change"]
    assert change["who"] == "alice" and change["message"] == "tone"
    assert change["previous_version"] == before["version"]
    assert (
        "-You are" in change["diff"]
        and "+You are" in change["diff"]
        and "cheerful" in change["diff"]
    )
    assert (prompts / "default.md").read_text() == edited

    stale = client.put(  # bob edits from the version alice replaced
        "/v1/admin/personas/default",
        json={"source": before["source"], "expected_version": before["version"]},
        headers={"Authorization": f"Bearer {BOB}"},
    )
    assert stale.status_code == 409 and error(stale)["code"] == "version_conflict"

    invalid = client.put(
        "/v1/admin/personas/default", json={"source": "---\nname: [\n---\nx\n"}, headers=AUTH
    )
    assert invalid.status_code == 422
    assert error(invalid)["code"] == "persona_invalid" and error(invalid)["problems"]
    assert (prompts / "default.md").read_text() == edited  # nothing written

    history = client.get("/v1/admin/personas/default/history", headers=AUTH).json()["changes"]
    assert [c["version"] for c in history][:2] == [change["version"], before["version"]]


def test_rollback_restores_an_earlier_version_as_a_new_change(
    client: TestClient, prompts: Path
) -> None:
    before = client.get("/v1/admin/personas/default", headers=AUTH).json()
    client.put(
        "/v1/admin/personas/default",
        json={"source": before["source"] + "\nBe brief.\n", "message": "brief"},
        headers=AUTH,
    ).raise_for_status()
    old = client.get(
        f"/v1/admin/personas/default/versions/{before['version']}", headers=AUTH
    ).json()
    assert old["source"] == before["source"]
    rolled = client.post(
        "/v1/admin/personas/default/rollback", json={"version": before["version"]}, headers=AUTH
    )
    assert rolled.status_code == 200
    assert rolled.json()["change"]["version"] == before["version"]
    assert (prompts / "default.md").read_text() == before["source"]
    unknown = client.post(
        "/v1/admin/personas/default/rollback", json={"version": "000000000000"}, headers=AUTH
    )
    assert unknown.status_code == 404 and error(unknown)["code"] == "version_not_found"


def test_preview_runs_a_draft_without_saving_it(client: TestClient, prompts: Path) -> None:
    saved = (prompts / "default.md").read_text()
    draft = "---\nname: Zed\n---\nYou are {{ persona.name }}, a pirate.\n"
    body = client.post(
        "/v1/admin/personas/default/preview",
        json={"message": "Hello", "source": draft, "history": [{"role": "user", "text": "Hi"}]},
        headers=AUTH,
    ).json()
    assert body["status"] == "completed"
    assert body["text"] == "You are Zed, a pirate."
    assert body["refused"] is False and body["citations"] == [] and body["passages"] == []
    assert (prompts / "default.md").read_text() == saved
    current = client.post(
        "/v1/admin/personas/default/preview", json={"message": "Hello"}, headers=AUTH
    ).json()
    assert current["text"].startswith("You are Ada")
    bad = client.post(
        "/v1/admin/personas/default/preview",
        json={"message": "Hello", "source": "---\nvoice: {rate: 9}\n---\nx\n"},
        headers=AUTH,
    )
    assert bad.status_code == 422 and error(bad)["problems"][0]["field"] == "voice.rate"


def test_knowledge_status_is_listed(client: TestClient) -> None:
    body = client.get("/v1/admin/knowledge", headers=AUTH).json()
    assert body == {"knowledge_bases": [{"name": "acme"}]}
