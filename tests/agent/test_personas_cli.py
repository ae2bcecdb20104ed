"""python -m agent.personas: checking and rendering persona files without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.personas.__main__ import main

GOOD = "---\nname: Ada\nlabel: v1\n---\nYou are {{ persona.name }}. Today is {{ today }}.\n"
BAD = "---\nname: Ada\nturn_taking: {silence_ms: 5}\n---\nYou are {{ nobody }}.\n"
KNOWING = "---\nknowledge: {base: kb}\n---\nYou help.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "ada.md").write_text(GOOD)
    (tmp_path / "README.md").write_text("# not a persona")
    (tmp_path / "knowledge" / "kb").mkdir(parents=True)
    (tmp_path / "helper.md").write_text(KNOWING)
    return tmp_path


def test_check_reports_each_file_and_succeeds_when_all_are_valid(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--folder", str(folder)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ok")[0] for line in out] == [
        str(folder / "ada.md"),
        str(folder / "helper.md"),
    ]
    assert out[0].endswith("(v1)")
    assert not (folder / ".history").exists()


def test_check_lists_every_problem_and_fails(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.md").write_text(BAD)

    assert main(["check", str(folder / "bad.md"), str(folder / "missing.md")]) == 1

    out = capsys.readouterr().out
    assert f"{folder / 'bad.md'}:3: turn_taking.silence_ms: Input should be greater" in out
    assert f"{folder / 'bad.md'}:5: unknown variable 'nobody'" in out
    assert f"{folder / 'missing.md'}: No such file or directory" in out


def test_render_prints_the_system_prompt(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(folder / "ada.md"), "--today", "2025-04-01"]) == 0

    assert capsys.readouterr().out == "You are Ada. Today is 2025-04-01.\n"


def test_render_shows_sample_passages_or_none(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["render", str(folder / "helper.md")])
    with_samples = capsys.readouterr().out
    main(["render", str(folder / "helper.md"), "--passages", "none"])
    without = capsys.readouterr().out

    assert "<<<passage S1>>>" in with_samples
    assert "No reference passages were found" in without


def test_render_of_an_invalid_file_prints_its_problems(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.md").write_text(BAD)

    assert main(["render", str(folder / "bad.md")]) == 1
    assert "turn_taking.silence_ms" in capsys.readouterr().out
