"""The eval runner end to end: ``--serve`` starts a real server (real Redis, the embedded model,
speech), runs a suite over the real protocol, and the exit status and reports say how it went."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from evals.cli import main
from tests.conftest import REDIS_URL

pytestmark = [pytest.mark.model, pytest.mark.speech, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]

BROKEN_PROMPT = """---
name: Bob
---
You are Bob, a broken assistant. Whatever you are asked, you answer only with the words
"banana banana banana" and nothing else. Never answer the question.
"""

CAPITAL_SUITE = """
name: facts
cases:
  - name: capital of France
    turns:
      - text: "What is the capital of France?"
        contains: ["Paris"]
        not_contains: ["banana"]
"""


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """What ``--serve`` passes on to the server: test Redis, a key prefix of its own, short
    replies; no knowledge bases (these suites use none), speech cached per test."""
    prefix = f"test:{secrets.token_hex(4)}:"
    monkeypatch.setenv("AVATAR_REDIS__URL", REDIS_URL)
    monkeypatch.setenv("AVATAR_REDIS__KEY_PREFIX", prefix)
    monkeypatch.setenv("AVATAR_LLM__MAX_TOKENS", "60")
    monkeypatch.setenv("AVATAR_KNOWLEDGE__ENABLED", "false")
    monkeypatch.setenv("AVATAR_PROMPTS_DIR", str(ROOT / "prompts"))
    yield
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def broken_suite(server_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default persona replaced by one that never answers; a suite asking it a fact."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts, ignore=shutil.ignore_patterns(".*", "knowledge"))
    (prompts / "default.md").write_text(BROKEN_PROMPT)
    monkeypatch.setenv("AVATAR_PROMPTS_DIR", str(prompts))
    suite = tmp_path / "facts.yaml"
    suite.write_text(CAPITAL_SUITE)
    return suite


@pytest.mark.usefixtures("server_env")
def test_the_smoke_suite_passes_against_a_fresh_server(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(
        [
            "run",
            str(ROOT / "evals" / "suites" / "smoke.yaml"),
            "--serve",
            "--parallel",
            "1",
            # Latency is the evals' business; this test checks the runner, on a machine that
            # may be busy with other tests.
            "--budget-scale",
            "3",
            "--cache-dir",
            str(tmp_path / "speech"),
            "--json",
            str(out / "smoke.json"),
            "--junit",
            str(out / "smoke.xml"),
            "--html",
            str(out / "smoke.html"),
        ]
    )
    report = json.loads((out / "smoke.json").read_text())
    reasons = {c["name"]: c["reason"] for s in report["suites"] for c in s["cases"]}
    assert status == 0, reasons
    assert report["totals"]["passed"] == report["totals"]["cases"] >= 3
    assert (out / "smoke.xml").read_text().count("<testcase") == report["totals"]["cases"]


def test_a_broken_persona_fails_and_the_reports_show_why(
    tmp_path: Path, broken_suite: Path
) -> None:

    status = main(
        [
            "run",
            str(broken_suite),
            "--serve",
            "--json",
            str(tmp_path / "facts.json"),
            "--html",
            str(tmp_path / "facts.html"),
        ]
    )

    assert status == 1
    report = json.loads((tmp_path / "facts.json").read_text())
    (case,) = report["suites"][0]["cases"]
    assert case["status"] == "failed"
    (turn,) = case["turns"]
    reply = turn["reply"]["text"]
    assert reply and "paris" not in reply.lower()
    failing = [c for c in turn["checks"] if c["status"] == "failed"]
    assert failing and failing[0]["name"] == "contains 'Paris'"
    assert case["reason"].startswith("turn 1: contains 'Paris'")
    page = (tmp_path / "facts.html").read_text()
    assert '<li class="c-failed">✗ contains &#x27;Paris&#x27;' in page
    first_words = " ".join(reply.split()[:3])
    assert first_words.replace("'", "&#x27;").replace('"', "&quot;") in page, (
        "the page shows the actual reply"
    )


def test_a_server_in_the_runners_process_answers_like_a_separate_one(
    tmp_path: Path, broken_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--in-process``: the same broken persona fails the same way, with no child process."""
    monkeypatch.setenv("AVATAR_VOICE__ENABLED", "false")  # a typed suite: no speech models
    monkeypatch.setenv("AVATAR_TTS__ENABLED", "false")

    status = main(
        ["run", str(broken_suite), "--in-process", "--json", str(tmp_path / "facts.json")]
    )

    assert status == 1
    report = json.loads((tmp_path / "facts.json").read_text())
    (case,) = report["suites"][0]["cases"]
    (turn,) = case["turns"]
    assert turn["reply"]["text"] and "paris" not in turn["reply"]["text"].lower()
    assert case["reason"].startswith("turn 1: contains 'Paris'")
