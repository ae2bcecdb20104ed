"""agent/personas.py: persona files (front matter + system prompt) and the library reading them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agent.personas import Avatar, Persona, PersonaError, PersonaLibrary, parse_persona

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"

VALID = b"""---
name: Ada
greeting: Hi, I'm Ada.
---
You are Ada.
Answer briefly.
"""


def test_valid_file_parses_front_matter_and_prompt() -> None:
    persona = parse_persona("ada", VALID, "ada.md")

    assert persona == Persona(
        id="ada",
        name="Ada",
        version=hashlib.sha256(VALID).hexdigest()[:12],
        system_prompt="You are Ada.\nAnswer briefly.",
        greeting="Hi, I'm Ada.",
    )


def test_file_without_front_matter_is_all_prompt_and_named_after_its_id() -> None:
    persona = parse_persona("helper", b"\n  You help.  \n", "helper.md")

    assert (persona.name, persona.greeting, persona.system_prompt) == ("helper", None, "You help.")


def test_greeting_is_optional() -> None:
    persona = parse_persona("ada", b"---\nname: Ada\n---\nPrompt.\n", "ada.md")

    assert persona.greeting is None


def test_name_is_stripped() -> None:
    persona = parse_persona("ada", b"---\nname: '  Ada  '\n---\nPrompt.\n", "ada.md")

    assert persona.name == "Ada"


def test_front_matter_that_is_null_uses_defaults() -> None:
    persona = parse_persona("ada", b"---\n# nothing here\n---\nPrompt.\n", "ada.md")

    assert (persona.name, persona.greeting, persona.system_prompt) == ("ada", None, "Prompt.")


def test_version_is_stable_for_the_same_bytes() -> None:
    assert parse_persona("a", VALID, "a.md").version == parse_persona("b", VALID, "b.md").version


@pytest.mark.parametrize(
    "changed",
    [VALID + b"\n", VALID.replace(b"Ada.", b"Ada!"), VALID.replace(b"\n", b"\n\n", 1)],
    ids=["trailing-newline", "prompt-text", "front-matter-spacing"],
)
def test_version_changes_when_the_bytes_change(changed: bytes) -> None:
    assert parse_persona("a", changed, "a.md").version != parse_persona("a", VALID, "a.md").version


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"---\nname: Ada\nYou are Ada.\n", "not closed"),
        (b"---\n- a\n- b\n---\nPrompt.\n", "must be a mapping"),
        (b"---\nplain words\n---\nPrompt.\n", "must be a mapping"),
        (b"---\nname: ''\n---\nPrompt.\n", "'name'"),
        (b"---\nname: '   '\n---\nPrompt.\n", "'name'"),
        (b"---\nname: 42\n---\nPrompt.\n", "'name'"),
        (b"---\nname: [a, b]\n---\nPrompt.\n", "'name'"),
        (b"---\nname: Ada\ngreeting: 5\n---\nPrompt.\n", "'greeting'"),
        (b"---\nname: Ada\ngreeting: {a: 1}\n---\nPrompt.\n", "'greeting'"),
        (b"---\nname: Ada\n---\n", "system prompt"),
        (b"---\nname: Ada\n---\n \n\t\n", "system prompt"),
        (b"", "system prompt"),
        (b"   \n", "system prompt"),
    ],
    ids=[
        "unclosed-front-matter",
        "front-matter-list",
        "front-matter-scalar",
        "name-empty",
        "name-blank",
        "name-number",
        "name-list",
        "greeting-number",
        "greeting-mapping",
        "prompt-missing",
        "prompt-blank",
        "file-empty",
        "file-blank",
    ],
)
def test_invalid_file_raises_persona_error_naming_the_file(raw: bytes, problem: str) -> None:
    source = "/srv/prompts/broken.md"

    with pytest.raises(PersonaError) as info:
        parse_persona("broken", raw, source)

    assert str(info.value).startswith(f"{source}: ")
    assert problem in str(info.value)


def test_invalid_yaml_front_matter_raises_persona_error_naming_the_file() -> None:
    with pytest.raises(PersonaError, match=r"^broken\.md: "):
        parse_persona("broken", b"---\nname: [unclosed\n---\nPrompt.\n", "broken.md")


def test_file_that_is_not_utf8_raises_persona_error_naming_the_file() -> None:
    with pytest.raises(PersonaError, match=r"^broken\.md: "):
        parse_persona("broken", b"---\nname: Ada\n---\nCaf\xe9\n", "broken.md")


def test_front_matter_with_windows_line_endings_is_parsed() -> None:
    persona = parse_persona("ada", VALID.replace(b"\n", b"\r\n"), "ada.md")

    assert persona.name == "Ada"
    assert "---" not in persona.system_prompt


def test_error_is_a_value_error() -> None:
    assert issubclass(PersonaError, ValueError)


def test_shipped_default_persona_parses() -> None:
    path = PROMPTS / "default.md"

    persona = parse_persona("default", path.read_bytes(), str(path))

    assert persona.id == "default"
    assert persona.name.strip()
    assert persona.system_prompt
    assert persona.greeting
    assert "---" not in persona.system_prompt


def test_every_shipped_persona_loads_through_the_library() -> None:
    library = PersonaLibrary(PROMPTS)
    files = sorted(PROMPTS.glob("*.md"))
    assert files

    for path in files:
        assert library.get(path.stem).id == path.stem


# ── PersonaLibrary ─────────────────────────────────────────────────────────


def _write(path: Path, raw: bytes, mtime_ns: int) -> None:
    path.write_bytes(raw)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_library_reads_a_persona_from_its_folder(tmp_path: Path) -> None:
    _write(tmp_path / "ada.md", VALID, 1_000_000_000_000_000_000)

    persona = PersonaLibrary(tmp_path).get("ada")

    assert persona == parse_persona("ada", VALID, str(tmp_path / "ada.md"))


def test_library_reuses_the_cached_persona_while_mtime_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "ada.md"
    _write(path, VALID, 1_000_000_000_000_000_000)
    library = PersonaLibrary(tmp_path)
    first = library.get("ada")

    # Same mtime, different bytes: the library does not re-read.
    _write(path, VALID.replace(b"Ada.\n", b"Bob.\n"), 1_000_000_000_000_000_000)

    assert library.get("ada") is first


def test_library_reloads_when_the_mtime_changes(tmp_path: Path) -> None:
    path = tmp_path / "ada.md"
    _write(path, VALID, 1_000_000_000_000_000_000)
    library = PersonaLibrary(tmp_path)
    first = library.get("ada")

    _write(
        path, VALID.replace(b"You are Ada.", b"You are Ada, reloaded."), 1_000_000_001_000_000_000
    )
    second = library.get("ada")

    assert second.system_prompt.startswith("You are Ada, reloaded.")
    assert second.version != first.version


def test_library_reports_a_broken_edit_and_recovers_after_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "ada.md"
    _write(path, b"---\nname: Ada\n", 1_000_000_000_000_000_000)
    library = PersonaLibrary(tmp_path)

    with pytest.raises(PersonaError, match="not closed"):
        library.get("ada")
    _write(path, VALID, 1_000_000_002_000_000_000)

    assert library.get("ada").name == "Ada"


@pytest.mark.parametrize(
    "persona_id",
    ["", "Ada", "../secrets", "a/b", "-leading-dash", "_leading", "a.md", "a b", "x" * 65, "é"],
)
def test_library_rejects_ids_that_are_not_valid_names(tmp_path: Path, persona_id: str) -> None:
    with pytest.raises(PersonaError, match="is not a valid name"):
        PersonaLibrary(tmp_path).get(persona_id)


@pytest.mark.parametrize("persona_id", ["a", "0", "ada_2", "support-bot", "x" * 64])
def test_library_accepts_ids_made_of_lowercase_letters_digits_dash_underscore(
    tmp_path: Path, persona_id: str
) -> None:
    _write(tmp_path / f"{persona_id}.md", b"Prompt.", 1_000_000_000_000_000_000)

    assert PersonaLibrary(tmp_path).get(persona_id).id == persona_id


def test_library_reports_a_missing_file_with_its_folder(tmp_path: Path) -> None:
    with pytest.raises(PersonaError, match="'ghost' not found") as info:
        PersonaLibrary(tmp_path).get("ghost")

    assert str(tmp_path) in str(info.value)


def test_library_reports_a_file_deleted_after_it_was_cached(tmp_path: Path) -> None:
    path = tmp_path / "ada.md"
    _write(path, VALID, 1_000_000_000_000_000_000)
    library = PersonaLibrary(tmp_path)
    library.get("ada")

    path.unlink()

    with pytest.raises(PersonaError, match="not found"):
        library.get("ada")


def test_library_error_for_a_bad_file_names_the_path(tmp_path: Path) -> None:
    _write(tmp_path / "bad.md", b"---\nname: Ada\n---\n", 1_000_000_000_000_000_000)

    with pytest.raises(PersonaError) as info:
        PersonaLibrary(tmp_path).get("bad")

    assert str(info.value).startswith(str(tmp_path / "bad.md"))


def test_library_rejects_an_id_with_a_trailing_newline(tmp_path: Path) -> None:
    with pytest.raises(PersonaError, match="is not a valid name"):
        PersonaLibrary(tmp_path).get("ada\n")


def test_vocabulary_lists_words_for_speech_recognition() -> None:
    raw = b"---\nname: Ada\nvocabulary: [Zorblax, ' Quillora ']\n---\nBe kind.\n"
    persona = parse_persona("ada", raw, "ada.md")
    assert persona.vocabulary == ("Zorblax", "Quillora")


def test_vocabulary_must_be_a_list_of_strings() -> None:
    with pytest.raises(PersonaError, match=r"ada\.md: field 'vocabulary'"):
        parse_persona("ada", b"---\nvocabulary: Zorblax\n---\nBe kind.\n", "ada.md")


# ── avatar ─────────────────────────────────────────────────────────────────


def _with_avatar(avatar_yaml: str) -> bytes:
    return f"---\nname: Ada\navatar: {avatar_yaml}\n---\nPrompt.\n".encode()


def test_a_persona_without_avatar_has_none() -> None:
    assert parse_persona("ada", VALID, "ada.md").avatar is None
    assert parse_persona("ada", _with_avatar("null"), "ada.md").avatar is None


@pytest.mark.parametrize(
    ("avatar_yaml", "expected"),
    [
        ("/avatars/ada.glb", Avatar("/avatars/ada.glb", "glb")),
        ("/avatars/ada.vrm", Avatar("/avatars/ada.vrm", "vrm")),
        ("/avatars/ADA.VRM", Avatar("/avatars/ADA.VRM", "vrm")),
        ("https://cdn.example.com/a.vrm?v=2", Avatar("https://cdn.example.com/a.vrm?v=2", "vrm")),
        ("https://cdn.example.com/model", Avatar("https://cdn.example.com/model", "glb")),
        ("{url: /avatars/ada.glb}", Avatar("/avatars/ada.glb", "glb")),
        ("{url: /avatars/ada.bin, format: vrm}", Avatar("/avatars/ada.bin", "vrm")),
        ("{url: /avatars/ada.vrm, format: glb}", Avatar("/avatars/ada.vrm", "glb")),
        ("{url: /avatars/ada.vrm, format: default}", Avatar("/avatars/ada.vrm", "default")),
        ("{url: '  /avatars/ada.glb  '}", Avatar("/avatars/ada.glb", "glb")),
    ],
)
def test_avatar_is_a_url_or_a_mapping_and_its_format_is_inferred_when_omitted(
    avatar_yaml: str, expected: Avatar
) -> None:
    assert parse_persona("ada", _with_avatar(avatar_yaml), "ada.md").avatar == expected


@pytest.mark.parametrize(
    ("avatar_yaml", "message"),
    [
        ("42", "field 'avatar' must be a URL or a mapping with 'url'"),
        ("[a.glb]", "field 'avatar' must be a URL or a mapping with 'url'"),
        ("''", "field 'avatar.url' must be a non-empty string"),
        ("{format: glb}", "field 'avatar.url' must be a non-empty string"),
        ("{url: 7}", "field 'avatar.url' must be a non-empty string"),
        ("ada.glb", "field 'avatar.url' must be an http\\(s\\) URL or a path starting with '/'"),
        ("avatars/ada.glb", "path starting with '/'"),
        ("//cdn.example.com/a.glb", "path starting with '/'"),
        ("ftp://cdn.example.com/a.glb", "path starting with '/'"),
        ("javascript:alert(1)", "path starting with '/'"),
        ("'/avatars/my ada.glb'", "without spaces"),
        ("{url: /a.glb, format: fbx}", "field 'avatar.format' must be 'glb', 'vrm' or 'default'"),
        ("{url: /a.glb, fromat: vrm}", "field 'avatar' has unknown key\\(s\\) 'fromat'"),
    ],
)
def test_an_invalid_avatar_names_the_file_and_the_field(avatar_yaml: str, message: str) -> None:
    with pytest.raises(PersonaError, match=message) as info:
        parse_persona("ada", _with_avatar(avatar_yaml), "/srv/prompts/ada.md")
    assert str(info.value).startswith("/srv/prompts/ada.md: field 'avatar")


def test_an_overlong_avatar_url_is_refused() -> None:
    url = "https://cdn.example.com/" + "a" * 3000 + ".glb"
    with pytest.raises(PersonaError, match="at most 2048 characters"):
        parse_persona("ada", _with_avatar(url), "ada.md")


def test_the_avatar_is_part_of_the_persona_version() -> None:
    glb = parse_persona("ada", _with_avatar("/avatars/ada.glb"), "ada.md")
    vrm = parse_persona("ada", _with_avatar("/avatars/ada.vrm"), "ada.md")

    assert glb.version != vrm.version
