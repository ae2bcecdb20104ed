"""Suite files: the schema, and error messages that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.driver import budgets_for, needs_audio_in, needs_audio_out
from evals.suite import SuiteError, load_suite, load_suites

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "evals" / "suites").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    return str(caught.value)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_suites_are_valid(path: Path) -> None:
    loaded = load_suite(path)
    assert loaded.suite.cases


def test_a_minimal_suite_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_suite(
        write(tmp_path, "name: s\ncases:\n  - name: hi\n    turns:\n      - text: Hello\n")
    )
    (case,) = loaded.suite.cases
    assert case.turns[0].kind == "text"
    assert loaded.suite.defaults.playback == "fast"
    assert loaded.suite.persona is None


def test_an_unknown_field_is_named_with_its_case_and_turn(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: s\ncases:\n  - name: greeting\n    turns:\n"
        "      - text: Hi\n        contians: [hello]\n",
    )
    message = error_of(path)
    assert message.startswith(f"{path}: ")
    assert "cases[0] 'greeting' → turns[0] → contians: unknown field" in message


def test_several_errors_are_listed_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name: s
cases:
  - name: a
    turns:
      - text: Hi
        say: Hi
  - name: b
    turns:
      - text: Hi
        regex: "(("
        expression_in: [smiley]
        contains: [3]
        judge: {rubric: polite, min_score: 9}
""",
    )
    message = error_of(path)
    assert "cases[0] 'a' → turns[0]: a turn is exactly one of 'text', 'audio' or 'say'" in message
    assert "cases[1] 'b' → turns[0] → regex: invalid regular expression '(('" in message
    assert "expression_in: unknown expression(s) 'smiley'" in message
    assert "contains[0]: must be a text, or a list of alternative texts" in message
    assert "judge → min_score: Input should be less than or equal to 5" in message


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("name: s\n", "cases: required field is missing"),
        ("name: s\ncases: []\n", "cases: List should have at least 1 item"),
        ("- a\n- b\n", "a suite is a mapping with 'name' and 'cases'"),
        ("name: s\ncases: [\n", "not valid YAML (line 3, column 1)"),
        (
            "name: s\ncases:\n  - {name: a, turns: [{text: x}]}\n"
            "  - {name: a, turns: [{text: y}]}\n",
            "two cases are named 'a'",
        ),
        (
            "name: s\ncases: [{name: a, turns: [{text: x, voice_to_voice_ms: 900}]}]\n",
            "voice_to_voice_ms applies to spoken turns",
        ),
        (
            "name: s\ncases: [{name: a, turns: [{text: x, "
            "barge_in: {after_ms: 9, say: a, text: b}}]}]\n",
            "give at most one of 'say' and 'text'",
        ),
        (
            "name: s\ndefaults: {playback: slow}\ncases: [{name: a, turns: [{text: x}]}]\n",
            "defaults → playback: Input should be 'fast' or 'realtime'",
        ),
    ],
)
def test_invalid_suites_say_what_is_wrong(tmp_path: Path, yaml_text: str, expected: str) -> None:
    assert expected in error_of(write(tmp_path, yaml_text))


def test_audio_files_resolve_against_the_suite_file(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "q.wav").write_bytes(b"RIFF")
    ok = write(tmp_path, "name: s\ncases: [{name: a, turns: [{audio: audio/q.wav}]}]\n")
    assert load_suite(ok).audio_path(load_suite(ok).suite.cases[0].turns[0]) == (
        tmp_path / "audio" / "q.wav"
    )
    missing = write(tmp_path, "name: s\ncases: [{name: a, turns: [{audio: nope.wav}]}]\n", "m.yaml")
    assert "turns[0] → audio: no such file" in error_of(missing)


def test_load_suites_reports_every_broken_file(tmp_path: Path) -> None:
    a = write(tmp_path, "name: a\n", "a.yaml")
    b = write(tmp_path, "name: b\n", "b.yaml")
    with pytest.raises(SuiteError) as caught:
        load_suites([a, b, tmp_path / "absent.yaml"])
    message = str(caught.value)
    assert str(a) in message and str(b) in message and "absent.yaml: no such file" in message


def test_turn_budgets_override_the_defaults_and_null_switches_one_off(tmp_path: Path) -> None:
    loaded = load_suite(
        write(
            tmp_path,
            """
name: s
defaults: {first_text_ms: 3000, voice_to_voice_ms: 2500}
cases:
  - name: a
    turns:
      - text: x
      - text: y
        first_text_ms: 800
      - say: z
        first_text_ms: null
""",
        )
    )
    defaults = loaded.suite.defaults
    turns = loaded.suite.cases[0].turns
    assert budgets_for(turns[0], defaults)["first_text_ms"] == 3000
    assert budgets_for(turns[1], defaults)["first_text_ms"] == 800
    assert budgets_for(turns[2], defaults) == {
        "first_text_ms": None,
        "first_audio_ms": None,
        "voice_to_voice_ms": 2500,
    }


def test_a_case_asks_only_for_the_audio_it_needs(tmp_path: Path) -> None:
    loaded = load_suite(
        write(
            tmp_path,
            """
name: s
cases:
  - {name: text, turns: [{text: x, contains: [y]}]}
  - {name: visemes, turns: [{text: x, visemes: aligned}]}
  - {name: spoken, turns: [{say: x}]}
  - {name: barge, turns: [{text: x, barge_in: {after_ms: 500, say: stop}}]}
""",
        )
    )
    defaults = loaded.suite.defaults
    text, visemes, spoken, barge = loaded.suite.cases
    assert (needs_audio_in(text), needs_audio_out(text, defaults)) == (False, False)
    assert (needs_audio_in(visemes), needs_audio_out(visemes, defaults)) == (False, True)
    assert (needs_audio_in(spoken), needs_audio_out(spoken, defaults)) == (True, False)
    assert (needs_audio_in(barge), needs_audio_out(barge, defaults)) == (True, True)
