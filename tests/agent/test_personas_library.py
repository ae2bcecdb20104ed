"""agent/personas: PersonaLibrary (hot reload, last good version, safe writes) and its history."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.personas import (
    Change,
    PersonaError,
    PersonaLibrary,
    Problem,
    VersionConflict,
    parse_persona,
)
from agent.personas.history import unified_diff

V1 = "---\nname: Ada\ngreeting: Hi, I'm Ada.\n---\nYou are Ada.\nAnswer briefly.\n"
V2 = "---\nname: Ada\nlabel: spring\ngreeting: Hello!\n---\nYou are Ada.\nAnswer in one line.\n"
V3 = "---\nname: Ada\n---\nYou are Ada, version three.\n"
BROKEN = "---\nname: Ada\nturn_taking: {silence_ms: 5}\n---\nYou are Ada.\n"
START = dt.datetime(2025, 4, 1, 9, 0, tzinfo=dt.UTC)
T0 = 1_000_000_000_000_000_000  # mtimes in ns


def version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Clock:
    """A minute passes at every reading."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> dt.datetime:
        self.readings += 1
        return START + dt.timedelta(minutes=self.readings - 1)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "prompts"
    path.mkdir()
    return path


@pytest.fixture
def library(folder: Path) -> PersonaLibrary:
    return PersonaLibrary(folder, clock=Clock(), today=lambda: "2025-04-01")


def put(path: Path, text: str, mtime_ns: int) -> None:
    """Edit a file directly, as a person with an editor would."""
    path.write_bytes(text.encode())
    os.utime(path, ns=(mtime_ns, mtime_ns))


def tree(path: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(path)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


# ── reading and reloading ─────────────────────────────────────────────────────────────────


def test_get_reads_a_persona_from_its_folder(folder: Path, library: PersonaLibrary) -> None:
    put(folder / "ada.md", V1, T0)

    persona = library.get("ada")

    assert persona == parse_persona("ada", V1.encode(), str(folder / "ada.md"))
    assert persona.source == V1


def test_ids_lists_persona_files_only(folder: Path, library: PersonaLibrary) -> None:
    names = "ada.md support-bot.md README.md readme.md .draft.md Bad_Name.md notes.txt x_1.md"
    for name in names.split():
        (folder / name).write_text(V1)
    (folder / "with space.md").write_text(V1)
    (folder / ".history").mkdir()
    (folder / ".history" / "hidden.md").write_text(V1)
    (folder / "knowledge").mkdir()
    (folder / "folder.md").mkdir()

    assert library.ids() == ["ada", "support-bot", "x_1"]


def test_the_cached_version_is_kept_while_mtime_and_size_are_unchanged(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    first = library.get("ada")

    put(folder / "ada.md", V1.replace("Ada.\n", "Bob.\n"), T0)  # same size, same mtime

    assert library.get("ada") is first


def test_an_edit_with_a_new_mtime_is_picked_up(folder: Path, library: PersonaLibrary) -> None:
    put(folder / "ada.md", V1, T0)
    first = library.get("ada")

    put(folder / "ada.md", V2, T0 + 1)
    second = library.get("ada")

    assert (second.version, second.label, second.greeting) == (version(V2), "spring", "Hello!")
    assert second.version != first.version


def test_an_edit_with_a_new_size_is_picked_up_even_with_the_same_mtime(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")

    put(folder / "ada.md", V3, T0)

    assert library.get("ada").version == version(V3)


def test_an_invalid_edit_keeps_the_last_good_version_and_records_the_problems(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    good = library.get("ada")

    put(folder / "ada.md", BROKEN, T0 + 1)

    assert library.get("ada") is good
    assert library.problems("ada") == (
        Problem(
            str(folder / "ada.md"),
            3,
            "turn_taking.silence_ms",
            "Input should be greater than or equal to 200",
        ),
    )
    entry = library.entry("ada")
    assert entry is not None
    assert (entry.valid, entry.version, entry.file_version) == (
        False,
        good.version,
        version(BROKEN),
    )


def test_fixing_the_file_serves_the_fix_and_clears_the_problems(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    put(folder / "ada.md", BROKEN, T0 + 1)
    library.get("ada")

    put(folder / "ada.md", V2, T0 + 2)

    assert library.get("ada").version == version(V2)
    assert library.problems("ada") == ()


def test_a_file_invalid_at_first_load_raises_with_its_problems(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", BROKEN, T0)

    with pytest.raises(PersonaError) as info:
        library.get("ada")

    assert str(info.value) == (
        f"{folder / 'ada.md'}:3: turn_taking.silence_ms: "
        "Input should be greater than or equal to 200"
    )
    assert library.problems("ada") == info.value.problems
    entry = library.entry("ada")
    assert entry is not None
    assert (entry.valid, entry.name, entry.version) == (False, None, None)


def test_a_missing_file_names_the_folder(folder: Path, library: PersonaLibrary) -> None:
    with pytest.raises(PersonaError, match="'ghost' not found") as info:
        library.get("ghost")

    assert str(folder) in str(info.value)
    assert library.entry("ghost") is None


def test_a_file_deleted_after_it_was_cached_is_gone(folder: Path, library: PersonaLibrary) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")

    (folder / "ada.md").unlink()

    with pytest.raises(PersonaError, match="not found"):
        library.get("ada")


@pytest.mark.parametrize(
    "persona_id",
    ["", "Ada", "../secrets", "a/b", "-x", "_x", "a.md", "a b", "x" * 65, "é", "ada\n"],
)
def test_ids_that_are_not_valid_names_are_refused_everywhere(
    library: PersonaLibrary, persona_id: str
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: library.get(persona_id),
        lambda: library.problems(persona_id),
        lambda: library.entry(persona_id),
        lambda: library.parse_source(persona_id, V1),
        lambda: library.write(persona_id, V1, who="maria", message="new"),
        lambda: library.source(persona_id, version(V1)),
        lambda: library.changes(persona_id),
        lambda: library.file_source(persona_id),
    ]
    for call in calls:
        with pytest.raises(PersonaError, match="is not a valid name"):
            call()


@pytest.mark.parametrize("persona_id", ["a", "0", "ada_2", "support-bot", "x" * 64])
def test_ids_are_lowercase_letters_digits_dash_underscore(
    folder: Path, library: PersonaLibrary, persona_id: str
) -> None:
    put(folder / f"{persona_id}.md", "Prompt.", T0)

    assert library.get(persona_id).id == persona_id


def test_a_persona_naming_a_missing_knowledge_base_is_valid_once_the_base_exists(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "acme.md", "---\nknowledge: {base: acme}\n---\nYou help.\n", T0)

    with pytest.raises(PersonaError, match=r"acme\.md:2: knowledge\.base: no knowledge base"):
        library.get("acme")
    (folder / "knowledge" / "acme").mkdir(parents=True)

    assert library.get("acme").knowledge is not None


def test_knowledge_bases_can_live_elsewhere(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "kb" / "acme").mkdir(parents=True)
    put(folder / "acme.md", "---\nknowledge: {base: acme}\n---\nYou help.\n", T0)

    library = PersonaLibrary(folder, knowledge_dir=tmp_path / "kb")

    assert library.get("acme").knowledge is not None


def test_entries_describe_every_persona(folder: Path, library: PersonaLibrary) -> None:
    put(folder / "ada.md", V2, T0)
    put(folder / "bad.md", BROKEN, T0 + 5_000_000_000)

    ada, bad = library.entries()

    assert (ada.id, ada.name, ada.version, ada.label, ada.valid, ada.problems) == (
        "ada",
        "Ada",
        version(V2),
        "spring",
        True,
        (),
    )
    assert ada.modified == dt.datetime.fromtimestamp(T0 / 1e9, dt.UTC)
    assert (bad.id, bad.valid, bad.version, len(bad.problems)) == ("bad", False, None, 1)
    assert json.loads(json.dumps(bad.as_dict())) == {
        "id": "bad",
        "name": None,
        "version": None,
        "label": None,
        "valid": False,
        "problems": [
            {
                "path": str(folder / "bad.md"),
                "line": 3,
                "field": "turn_taking.silence_ms",
                "message": "Input should be greater than or equal to 200",
            }
        ],
        "modified": "2001-09-09T01:46:45.000Z",
        "file_version": version(BROKEN),
    }


def test_file_source_is_the_text_on_disk_valid_or_not(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", BROKEN, T0)

    assert library.file_source("ada") == BROKEN
    with pytest.raises(PersonaError, match="not found"):
        library.file_source("ghost")


# ── parse_source ──────────────────────────────────────────────────────────────────────────


def test_parse_source_validates_a_draft_without_touching_disk(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    before = tree(folder)

    draft = library.parse_source("ada", V2)
    with pytest.raises(PersonaError, match=r"ada\.md:3: turn_taking\.silence_ms"):
        library.parse_source("ada", BROKEN)
    library.parse_source("newbie", V3)

    assert (draft.version, draft.label) == (version(V2), "spring")
    assert tree(folder) == before
    assert library.get("ada").version == version(V1)


# ── writing ───────────────────────────────────────────────────────────────────────────────


def test_write_creates_a_persona_and_records_the_change(
    folder: Path, library: PersonaLibrary
) -> None:
    change = library.write("ada", V1, who="maria", message="first draft")

    assert change == Change(
        persona="ada",
        version=version(V1),
        previous_version=None,
        label=None,
        who="maria",
        at=START,
        message="first draft",
        diff=unified_diff("ada", "", V1),
    )
    assert (folder / "ada.md").read_text() == V1
    assert library.get("ada").version == version(V1)
    assert library.changes("ada") == [change]


def test_write_replaces_the_file_and_diffs_against_the_previous_version(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)

    change = library.write("ada", V2, who="maria", message="spring launch")

    assert (change.previous_version, change.version, change.label) == (
        version(V1),
        version(V2),
        "spring",
    )
    assert change.diff == (
        "--- a/ada.md\n"
        "+++ b/ada.md\n"
        "@@ -1,6 +1,7 @@\n"
        " ---\n"
        " name: Ada\n"
        "-greeting: Hi, I'm Ada.\n"
        "+label: spring\n"
        "+greeting: Hello!\n"
        " ---\n"
        " You are Ada.\n"
        "-Answer briefly.\n"
        "+Answer in one line.\n"
    )
    assert library.get("ada").greeting == "Hello!"
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def test_write_keeps_the_file_permissions(folder: Path, library: PersonaLibrary) -> None:
    put(folder / "ada.md", V1, T0)
    (folder / "ada.md").chmod(0o664)

    library.write("ada", V2, who="maria", message="m")

    assert (folder / "ada.md").stat().st_mode & 0o777 == 0o664


def test_write_validates_first_and_writes_nothing_when_invalid(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    before = tree(folder)

    with pytest.raises(PersonaError) as info:
        library.write("ada", BROKEN, who="maria", message="oops")

    assert [p.field for p in info.value.problems] == ["turn_taking.silence_ms"]
    assert tree(folder) == before


def test_write_with_the_current_version_succeeds(folder: Path, library: PersonaLibrary) -> None:
    put(folder / "ada.md", V1, T0)

    change = library.write("ada", V2, who="maria", message="m", expected_version=version(V1))

    assert change.version == version(V2)


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    started_from = library.get("ada").version
    library.write("ada", V2, who="maria", message="first save", expected_version=started_from)
    before = tree(folder)

    with pytest.raises(VersionConflict) as info:
        library.write("ada", V3, who="omar", message="late save", expected_version=started_from)

    assert (info.value.expected, info.value.actual) == (version(V1), version(V2))
    assert str(info.value) == (
        f"{folder / 'ada.md'}: expected version {version(V1)}, "
        f"but the file is at version {version(V2)}"
    )
    assert isinstance(info.value, PersonaError)
    assert tree(folder) == before
    assert library.get("ada").version == version(V2)


def test_an_expected_version_for_a_file_that_does_not_exist_is_a_conflict(
    library: PersonaLibrary,
) -> None:
    with pytest.raises(VersionConflict, match="the file does not exist"):
        library.write("ada", V1, who="maria", message="m", expected_version=version(V3))


def test_the_expected_version_is_checked_against_the_file_even_when_it_is_invalid(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    put(folder / "ada.md", BROKEN, T0 + 1)

    with pytest.raises(VersionConflict):
        library.write("ada", V2, who="maria", message="m", expected_version=version(V1))
    change = library.write("ada", V2, who="maria", message="m", expected_version=version(BROKEN))

    assert change.previous_version == version(V1)  # the last good version recorded


def test_the_message_may_be_empty(library: PersonaLibrary) -> None:
    assert library.write("ada", V1, who="maria", message="  ").message == ""


def test_writing_the_current_text_again_records_nothing(
    folder: Path, library: PersonaLibrary
) -> None:
    first = library.write("ada", V1, who="maria", message="first")

    again = library.write("ada", V1, who="omar", message="no change")

    assert again == first
    assert len(library.changes("ada")) == 1


@pytest.mark.parametrize(
    ("who", "message", "problem"),
    [
        ("", "m", "who must be one line of 1 to 200 characters"),
        ("a\nb", "m", "who must be one line of 1 to 200 characters"),
        ("x" * 201, "m", "who must be one line of 1 to 200 characters"),
        ("maria", "x" * 2001, "message must be at most 2000 characters"),
    ],
)
def test_write_needs_who_and_why(
    library: PersonaLibrary, who: str, message: str, problem: str
) -> None:
    with pytest.raises(PersonaError, match=problem):
        library.write("ada", V1, who=who, message=message)


# ── history ───────────────────────────────────────────────────────────────────────────────


def test_the_first_sight_of_a_file_is_recorded_as_its_initial_version(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)

    library.get("ada")

    [change] = library.changes("ada")
    assert (change.who, change.message, change.previous_version, change.version) == (
        "file",
        "initial",
        None,
        version(V1),
    )
    assert (folder / ".history" / "ada" / f"{version(V1)}.md").read_text() == V1


def test_an_edit_made_in_the_file_is_recorded_with_its_diff(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")

    put(folder / "ada.md", V3, T0 + 1)
    library.get("ada")

    edit, initial = library.changes("ada")
    assert (edit.who, edit.message, edit.previous_version, edit.version) == (
        "file",
        "edited in the file",
        version(V1),
        version(V3),
    )
    assert edit.diff == unified_diff("ada", V1, V3)
    assert edit.at > initial.at


def test_an_invalid_edit_is_not_a_version_and_the_fix_diffs_from_the_last_good_one(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    put(folder / "ada.md", BROKEN, T0 + 1)
    library.get("ada")
    put(folder / "ada.md", V3, T0 + 2)
    library.get("ada")

    assert [c.version for c in library.changes("ada")] == [version(V3), version(V1)]
    assert library.changes("ada")[0].diff == unified_diff("ada", V1, V3)


def test_an_edit_on_disk_before_a_write_is_recorded_before_the_write(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    put(folder / "ada.md", V3, T0 + 1)  # nobody read it since

    change = library.write("ada", V2, who="maria", message="spring")

    assert [(c.who, c.version) for c in library.changes("ada")] == [
        ("maria", version(V2)),
        ("file", version(V3)),
        ("file", version(V1)),
    ]
    assert change.previous_version == version(V3)
    assert change.diff == unified_diff("ada", V3, V2)


def test_changes_are_stored_as_json_lines(folder: Path, library: PersonaLibrary) -> None:
    library.write("ada", V1, who="maria", message="first")
    library.write("ada", V2, who="omar", message="second")

    lines = (folder / ".history" / "ada" / "changes.jsonl").read_text().splitlines()

    assert [json.loads(line) for line in lines] == [
        {
            "persona": "ada",
            "version": version(V1),
            "previous_version": None,
            "label": None,
            "who": "maria",
            "at": "2025-04-01T09:00:00.000Z",
            "message": "first",
            "diff": unified_diff("ada", "", V1),
        },
        {
            "persona": "ada",
            "version": version(V2),
            "previous_version": version(V1),
            "label": "spring",
            "who": "omar",
            "at": "2025-04-01T09:01:00.000Z",
            "message": "second",
            "diff": unified_diff("ada", V1, V2),
        },
    ]
    assert Change.from_json(lines[1]) == library.changes("ada")[0]
    assert library.changes("ada")[0].as_dict()["at"] == "2025-04-01T09:01:00.000Z"


def test_a_torn_line_in_the_history_is_skipped(folder: Path, library: PersonaLibrary) -> None:
    library.write("ada", V1, who="maria", message="first")
    with (folder / ".history" / "ada" / "changes.jsonl").open("a") as file:
        file.write('{"persona": "ada", "vers\n')

    library.write("ada", V2, who="maria", message="second")

    assert [c.message for c in library.changes("ada")] == ["second", "first"]


def test_source_returns_any_recorded_version_and_the_current_file(
    folder: Path, library: PersonaLibrary
) -> None:
    library.write("ada", V1, who="maria", message="first")
    library.write("ada", V2, who="maria", message="second")
    put(folder / "ada.md", BROKEN, T0)

    assert library.source("ada", version(V1)) == V1
    assert library.source("ada", version(V2)) == V2
    assert library.source("ada", version(BROKEN)) == BROKEN
    assert library.version_source("ada", version(V1)) == V1
    for unknown in [version(V3), "../../etc/pa", "", "ABCDEF123456"]:
        with pytest.raises(PersonaError, match="has no version"):
            library.source("ada", unknown)


def test_rollback_makes_an_old_version_current_as_a_new_change(
    folder: Path, library: PersonaLibrary
) -> None:
    put(folder / "ada.md", V1, T0)
    library.get("ada")
    library.write("ada", V2, who="maria", message="spring")

    change = library.rollback("ada", version(V1), who="omar", message="back to basics")

    assert (change.version, change.previous_version, change.who, change.message) == (
        version(V1),
        version(V2),
        "omar",
        "back to basics",
    )
    assert change.diff == unified_diff("ada", V2, V1)
    assert (folder / "ada.md").read_text() == V1
    assert library.get("ada").version == version(V1)
    assert [c.version for c in library.changes("ada")] == [version(V1), version(V2), version(V1)]


def test_rollback_to_an_unknown_version_fails(folder: Path, library: PersonaLibrary) -> None:
    library.write("ada", V1, who="maria", message="first")

    with pytest.raises(PersonaError, match="has no version"):
        library.rollback("ada", version(V3), who="omar", message="?")


def test_two_libraries_sharing_a_folder_record_each_version_once(folder: Path) -> None:
    put(folder / "ada.md", V1, T0)
    one = PersonaLibrary(folder, clock=Clock())
    two = PersonaLibrary(folder, clock=Clock())
    one.get("ada")
    two.get("ada")

    one.write("ada", V2, who="maria", message="spring")
    two.get("ada")

    assert [(c.who, c.version) for c in two.changes("ada")] == [
        ("maria", version(V2)),
        ("file", version(V1)),
    ]


def test_history_can_be_switched_off(folder: Path) -> None:
    library = PersonaLibrary(folder, history=False, clock=Clock())
    put(folder / "ada.md", V1, T0)
    library.get("ada")

    change = library.write("ada", V2, who="maria", message="spring")

    assert (change.previous_version, change.version) == (version(V1), version(V2))
    assert library.changes("ada") == []
    assert not (folder / ".history").exists()


def test_reads_carry_on_when_the_history_cannot_be_written(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    library = PersonaLibrary(folder, history_dir=tmp_path / "not-a-folder" / "history")
    put(folder / "ada.md", V1, T0)

    assert library.get("ada").version == version(V1)
    assert library.history_error is not None
    assert "NotADirectoryError" in library.history_error
    with pytest.raises(NotADirectoryError):
        library.write("ada", V2, who="maria", message="spring")


def test_history_may_live_outside_the_prompts_folder(folder: Path, tmp_path: Path) -> None:
    library = PersonaLibrary(folder, history_dir=tmp_path / "elsewhere", clock=Clock())

    library.write("ada", V1, who="maria", message="first")

    assert (tmp_path / "elsewhere" / "ada" / f"{version(V1)}.md").read_text() == V1
    assert not (folder / ".history").exists()


# ── the diff format ───────────────────────────────────────────────────────────────────────


def test_the_diff_marks_a_missing_final_newline() -> None:
    assert unified_diff("ada", "a\nb", "a\nc\n") == (
        "--- a/ada.md\n+++ b/ada.md\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
    )


def test_identical_texts_have_an_empty_diff() -> None:
    assert unified_diff("ada", V1, V1) == ""
