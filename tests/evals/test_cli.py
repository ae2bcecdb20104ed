"""The command line without a server: validation, exit codes for usage and config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.cli import main
from evals.serve import free_port

ROOT = Path(__file__).resolve().parents[2]
VALID = "name: s\ncases:\n  - name: greeting\n    turns:\n      - text: Hello\n"


@pytest.fixture
def suites(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(VALID)
    (tmp_path / "bad.yaml").write_text("name: s\ncases:\n  - name: a\n    turns: [{txt: hi}]\n")
    return tmp_path


def test_validate_accepts_the_shipped_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "evals" / "suites")]) == 0
    out = capsys.readouterr().out
    assert "ok: " in out and "smoke.yaml (" in out and "acme_support.yaml (" in out


def test_validate_reports_each_invalid_suite_and_exits_1(
    suites: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(suites / "good.yaml"), str(suites / "bad.yaml")]) == 1
    out = capsys.readouterr().out
    assert "ok: " in out
    assert "invalid: " in out and "turns[0] → txt: unknown field" in out


def test_validate_of_an_empty_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path)]) == 2


def test_run_refuses_an_invalid_suite_before_connecting(
    suites: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(suites / "bad.yaml"), "--url", "ws://127.0.0.1:9/v1/realtime"]) == 2
    assert "invalid suite" in capsys.readouterr().err


def test_run_without_a_server_is_a_config_error(
    suites: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"ws://127.0.0.1:{free_port()}/v1/realtime"
    assert main(["run", str(suites / "good.yaml"), "--url", url]) == 2
    assert f"no avatar server answers at {url}" in capsys.readouterr().err


def test_a_filter_that_matches_no_case_is_a_usage_error(
    suites: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(suites / "good.yaml"), "--filter", "nothing-like-this"]) == 2
    assert "no case name contains 'nothing-like-this'" in capsys.readouterr().err


def test_bad_arguments_exit_2(suites: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", str(suites / "good.yaml"), "--url", "ws://x", "--serve"])
    assert caught.value.code == 2
    assert main(["run", str(suites / "good.yaml"), "--parallel", "0"]) == 2


def test_validate_reads_the_wav_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.wav").write_bytes(b"not a wav file")
    (tmp_path / "s.yaml").write_text("name: s\ncases: [{name: a, turns: [{audio: q.wav}]}]\n")
    assert main(["validate", str(tmp_path / "s.yaml")]) == 1
    assert "not a readable WAV file" in capsys.readouterr().out
