"""agent/personas: parsing a persona file (front matter fields, problems with file:line:field)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.personas import (
    Avatar,
    Knowledge,
    Persona,
    PersonaError,
    PersonaLibrary,
    Problem,
    TurnTaking,
    Voice,
    parse_avatar,
    parse_persona,
)

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
TODAY = "2025-04-01"

VALID = b"""---
name: Ada
greeting: Hi, I'm Ada.
---
You are Ada.
Answer briefly.
"""


def parse(raw: bytes | str, **kwargs: object) -> Persona:
    data = raw.encode() if isinstance(raw, str) else raw
    return parse_persona("ada", data, "prompts/ada.md", today=TODAY, **kwargs)  # type: ignore[arg-type]


def problems_of(raw: bytes | str, **kwargs: object) -> list[str]:
    with pytest.raises(PersonaError) as info:
        parse(raw, **kwargs)
    return [str(p) for p in info.value.problems]


def front(fields: str, body: str = "Prompt.") -> str:
    """A file with these front matter lines (line 2 onwards) and a one-line body."""
    return f"---\n{fields.strip(chr(10))}\n---\n{body}\n"


# ── the basics ────────────────────────────────────────────────────────────────────────────


def test_valid_file_parses_front_matter_and_prompt() -> None:
    persona = parse(VALID)

    assert persona == Persona(
        id="ada",
        name="Ada",
        version=hashlib.sha256(VALID).hexdigest()[:12],
        system_prompt="You are Ada.\nAnswer briefly.",
        greeting="Hi, I'm Ada.",
        source=VALID.decode(),
    )


def test_a_persona_has_defaults_for_every_optional_field() -> None:
    persona = parse(VALID)

    assert persona.label is None
    assert persona.voice == Voice("en_US-joe-medium", 1.0)
    assert persona.expressions == {}
    assert persona.turn_taking == TurnTaking()
    assert persona.turn_taking.overrides() == {}
    assert persona.knowledge is None
    assert persona.vocabulary == ()
    assert persona.avatar is None


def test_a_persona_can_be_hashed_and_compared() -> None:
    with_expressions = front("expressions: {laugh: smile}")

    assert hash(parse(with_expressions)) == hash(parse(with_expressions))
    assert parse(with_expressions) == parse(with_expressions)


def test_source_is_the_exact_text_so_a_reparse_gives_the_same_version() -> None:
    raw = VALID.replace(b"\n", b"\r\n")
    persona = parse(raw)

    assert persona.source.encode() == raw
    assert parse(persona.source).version == persona.version


def test_file_without_front_matter_is_all_prompt_and_named_after_its_id() -> None:
    persona = parse(b"\n  You help.  \n")

    assert (persona.name, persona.greeting, persona.system_prompt) == ("ada", None, "You help.")


def test_greeting_is_optional() -> None:
    assert parse(front("name: Ada")).greeting is None


def test_name_is_stripped() -> None:
    assert parse(front("name: '  Ada  '")).name == "Ada"


def test_front_matter_that_is_null_uses_defaults() -> None:
    persona = parse(front("# nothing here"))

    assert (persona.name, persona.greeting, persona.system_prompt) == ("ada", None, "Prompt.")


def test_a_byte_order_mark_is_ignored() -> None:
    assert parse(b"\xef\xbb\xbf" + VALID).name == "Ada"


def test_the_closing_line_may_end_the_file() -> None:
    assert problems_of("---\nname: Ada\n---") == [
        "prompts/ada.md:3: the system prompt (the text after the front matter) is empty"
    ]


def test_front_matter_with_windows_line_endings_is_parsed() -> None:
    persona = parse(VALID.replace(b"\n", b"\r\n"))

    assert persona.name == "Ada"
    assert persona.system_prompt == "You are Ada.\nAnswer briefly."


def test_version_is_stable_for_the_same_bytes() -> None:
    assert parse_persona("a", VALID, "a.md").version == parse_persona("b", VALID, "b.md").version


@pytest.mark.parametrize(
    "changed",
    [VALID + b"\n", VALID.replace(b"Ada.", b"Ada!"), VALID.replace(b"\n", b"\n\n", 1)],
    ids=["trailing-newline", "prompt-text", "front-matter-spacing"],
)
def test_version_changes_when_the_bytes_change(changed: bytes) -> None:
    assert parse(changed).version != parse(VALID).version


def test_label_names_a_version_for_people() -> None:
    persona = parse(front("name: Ada\nlabel: spring-launch"))

    assert persona.label == "spring-launch"
    assert persona.display_version == f"{persona.version} (spring-launch)"
    assert parse(VALID).display_version == parse(VALID).version


# ── problems: file, line, field ───────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("---\nname: Ada\nYou are Ada.\n", "1: the front matter is not closed with a '---' line"),
        ("---\n- a\n- b\n---\nPrompt.\n", "2: the front matter must be a mapping of fields"),
        ("---\nplain words\n---\nPrompt.\n", "2: the front matter must be a mapping of fields"),
        ("---\nname: ''\n---\nPrompt.\n", "2: name: must not be blank"),
        ("---\nname: '   '\n---\nPrompt.\n", "2: name: must not be blank"),
        ("---\nname: 42\n---\nPrompt.\n", "2: name: Input should be a valid string"),
        ("---\nname: [a, b]\n---\nPrompt.\n", "2: name: Input should be a valid string"),
        ("---\n\ngreeting: 5\n---\nP.\n", "3: greeting: Input should be a valid string"),
        ("---\ngreeting: {a: 1}\n---\nP.\n", "2: greeting: Input should be a valid string"),
        (
            "---\nname: Ada\n---\n",
            "4: the system prompt (the text after the front matter) is empty",
        ),
        ("---\nname: Ada\n---\n \n\t\n", "4: the system prompt (the text after the front matter)"),
        ("", "1: the system prompt (the text after the front matter) is empty"),
        ("   \n", "1: the system prompt (the text after the front matter) is empty"),
        ("---\nname: Ada\n---\n{% if false %}x{% endif %}\n", "4: the system prompt renders empty"),
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
        "prompt-renders-empty",
    ],
)
def test_an_invalid_file_names_the_file_and_line(raw: str, expected: str) -> None:
    [problem] = problems_of(raw)

    assert problem.startswith(f"prompts/ada.md:{expected}")


def test_invalid_yaml_points_at_its_line() -> None:
    assert problems_of("---\nname: Ada\ngreeting: a: b\n---\nPrompt.\n") == [
        "prompts/ada.md:3: invalid YAML: mapping values are not allowed here"
    ]


def test_unclosed_yaml_points_at_the_end_of_the_front_matter() -> None:
    [problem] = problems_of("---\nname: Ada\ngreeting: [unclosed\n---\nPrompt.\n")

    assert problem.startswith("prompts/ada.md:4: invalid YAML: while parsing a flow sequence")


def test_yaml_tags_that_build_objects_are_refused() -> None:
    [problem] = problems_of("---\nname: !!python/object:os.system ls\n---\nPrompt.\n")

    assert problem.startswith("prompts/ada.md:2: invalid YAML: ")


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte() -> None:
    assert problems_of(b"---\nname: Ada\n---\nCaf\xe9\n") == [
        "prompts/ada.md:4: not UTF-8 text (invalid continuation byte at byte 21)"
    ]


def test_a_huge_file_is_refused_before_parsing() -> None:
    [problem] = problems_of(b"x" * 300_000)

    assert problem.startswith("prompts/ada.md: the file is 300000 bytes")


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    raw = """---
name: Ada
turn_tacking: {}
voice:
  rate: 3
  voise: x
turn_taking:
  silence_ms: 100
  barge_in: 'yes'
expressions:
  smirk: smile
  laugh: grin
knowledge:
  top_k: 11
vocabulary: [a, 3]
name: Bob
---
Hello {{ nope }}
"""
    assert problems_of(raw) == [
        "prompts/ada.md:3: turn_tacking: unknown field (did you mean 'turn_taking'?)",
        "prompts/ada.md:5: voice.rate: Input should be less than or equal to 2",
        "prompts/ada.md:6: voice.voise: unknown field (did you mean 'voice'?)",
        "prompts/ada.md:8: turn_taking.silence_ms: Input should be greater than or equal to 200",
        "prompts/ada.md:9: turn_taking.barge_in: Input should be a valid boolean",
        "prompts/ada.md:11: expressions.smirk: unknown cue name; Input should be 'smile', 'sad', "
        "'surprised', 'laugh', 'wink', 'thinking' or 'neutral'",
        "prompts/ada.md:12: expressions.laugh: Input should be 'smile', 'sad', 'surprised', "
        "'laugh', 'wink', 'thinking' or 'neutral'",
        "prompts/ada.md:13: knowledge.base: Field required",
        "prompts/ada.md:14: knowledge.top_k: Input should be less than or equal to 10",
        "prompts/ada.md:15: vocabulary[1]: Input should be a valid string",
        "prompts/ada.md:16: name: duplicate key: each field may appear only once",
        "prompts/ada.md:18: unknown variable 'nope'; templates can use knowledge, passages, "
        "persona, reference, today",
    ]


def test_persona_error_lists_one_problem_per_line_and_keeps_them() -> None:
    with pytest.raises(PersonaError) as info:
        parse(front("name: 42\ngreeting: 5"))

    assert str(info.value) == (
        "prompts/ada.md:2: name: Input should be a valid string\n"
        "prompts/ada.md:3: greeting: Input should be a valid string"
    )
    assert info.value.problems[0] == Problem(
        "prompts/ada.md", 2, "name", "Input should be a valid string"
    )


def test_persona_error_from_a_message_has_one_problem_without_location() -> None:
    error = PersonaError("persona 'x' not found")

    assert str(error) == "persona 'x' not found"
    assert error.problems == (Problem("", None, None, "persona 'x' not found"),)
    assert isinstance(error, ValueError)


def test_an_unknown_top_level_field_lists_nothing_close_as_the_known_fields() -> None:
    [problem] = problems_of(front("zzz: 1"))

    assert problem == (
        "prompts/ada.md:2: zzz: unknown field (known fields: name, label, greeting, voice, "
        "avatar, expressions, turn_taking, knowledge, vocabulary)"
    )


def test_a_value_on_the_line_after_its_key_points_at_the_value() -> None:
    [problem] = problems_of(front("greeting:\n  - a list"))

    assert problem == "prompts/ada.md:2: greeting: Input should be a valid string"


def test_values_are_not_coerced_from_strings() -> None:
    assert problems_of(front("turn_taking:\n  silence_ms: '500'")) == [
        "prompts/ada.md:3: turn_taking.silence_ms: Input should be a valid integer"
    ]


# ── label ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("label", ["v2", "spring-launch", "2025.04_b", "A" * 64])
def test_label_accepts_short_names(label: str) -> None:
    assert parse(front(f"label: '{label}'")).label == label


@pytest.mark.parametrize("label", ["", "-x", "two words", "a/b", "A" * 65, "42"])
def test_label_refuses_other_text(label: str) -> None:
    [problem] = problems_of(front(f"label: {label!r}" if label != "42" else "label: 42"))

    assert problem.startswith("prompts/ada.md:2: label: ")


# ── voice ─────────────────────────────────────────────────────────────────────────────────


def test_voice_sets_the_piper_voice_and_its_rate() -> None:
    persona = parse(front("voice:\n  voice: en_GB-alan-low\n  rate: 1.25"))

    assert persona.voice == Voice("en_GB-alan-low", 1.25)
    assert persona.voice.length_scale == pytest.approx(0.8)


def test_voice_may_be_just_the_voice_name() -> None:
    assert parse(front("voice: en_US-joe-medium")).voice == Voice("en_US-joe-medium", 1.0)


def test_voice_rate_may_be_written_as_a_whole_number() -> None:
    assert parse(front("voice: {rate: 2}")).voice.rate == 2.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{rate: 0.4}", "voice.rate: Input should be greater than or equal to 0.5"),
        ("{rate: 2.5}", "voice.rate: Input should be less than or equal to 2"),
        ("{rate: fast}", "voice.rate: Input should be a valid number"),
        ("{voice: joe}", "voice.voice: String should match pattern"),
        ("{voice: 'en_US-joe-medium; rm'}", "voice.voice: String should match pattern"),
        ("{pitch: 2}", "voice.pitch: unknown field (known fields: voice, rate)"),
        ("42", "voice: Input should be a valid dictionary"),
    ],
)
def test_voice_refuses_values_out_of_range(value: str, expected: str) -> None:
    [problem] = problems_of(front(f"voice: {value}"))

    assert problem.startswith(f"prompts/ada.md:2: {expected}")


# ── expressions ───────────────────────────────────────────────────────────────────────────


def test_expressions_map_reply_cues_to_avatar_expressions() -> None:
    persona = parse(front("expressions:\n  laugh: smile\n  wink: neutral"))

    assert persona.expressions == {"laugh": "smile", "wink": "neutral"}
    assert persona.expression("laugh") == "smile"
    assert persona.expression("sad") == "sad"


def test_expressions_refuse_an_unknown_cue_at_its_key_line() -> None:
    [problem] = problems_of(front("expressions:\n  laugh: smile\n  grin: smile"))

    assert problem.startswith("prompts/ada.md:4: expressions.grin: unknown cue name; Input")


def test_expressions_refuse_an_unknown_avatar_expression_at_its_line() -> None:
    [problem] = problems_of(front("expressions:\n  laugh: giggle"))

    assert problem.startswith("prompts/ada.md:3: expressions.laugh: Input should be 'smile'")


# ── turn taking ───────────────────────────────────────────────────────────────────────────


def test_turn_taking_overrides_only_what_is_set() -> None:
    persona = parse(
        front(
            "turn_taking:\n  silence_ms: 700\n  min_silence_ms: 300\n  max_silence_ms: 2000\n"
            "  echo_guard_ms: 0\n  min_speech_ms: 200\n  barge_in: false"
        )
    )

    assert persona.turn_taking == TurnTaking(700, 300, 2000, 0, 200, False)
    assert persona.turn_taking.overrides() == {
        "silence_ms": 700,
        "min_silence_ms": 300,
        "max_silence_ms": 2000,
        "echo_guard_ms": 0,
        "min_speech_ms": 200,
        "barge_in": False,
    }
    assert parse(front("turn_taking: {silence_ms: 400}")).turn_taking.overrides() == {
        "silence_ms": 400
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("silence_ms", "199", "Input should be greater than or equal to 200"),
        ("silence_ms", "3001", "Input should be less than or equal to 3000"),
        ("min_silence_ms", "99", "Input should be greater than or equal to 100"),
        ("max_silence_ms", "5001", "Input should be less than or equal to 5000"),
        ("echo_guard_ms", "-1", "Input should be greater than or equal to 0"),
        ("min_speech_ms", "31", "Input should be greater than or equal to 32"),
        ("min_speech_ms", "1.5", "Input should be a valid integer"),
        ("barge_in", "1", "Input should be a valid boolean"),
        ("silence", "500", "unknown field (did you mean 'silence_ms'?)"),
    ],
)
def test_turn_taking_values_are_bounded(field: str, value: str, message: str) -> None:
    assert problems_of(front(f"turn_taking:\n  {field}: {value}")) == [
        f"prompts/ada.md:3: turn_taking.{field}: {message}"
    ]


def test_turn_taking_pauses_must_be_ordered() -> None:
    raw = front("turn_taking:\n  min_silence_ms: 900\n  silence_ms: 500\n  max_silence_ms: 400")

    assert problems_of(raw) == [
        "prompts/ada.md:4: turn_taking.silence_ms: must be at least "
        "turn_taking.min_silence_ms (900)",
        "prompts/ada.md:5: turn_taking.max_silence_ms: must be at least "
        "turn_taking.silence_ms (500)",
    ]


# ── knowledge ─────────────────────────────────────────────────────────────────────────────


def test_knowledge_has_defaults_for_everything_but_the_base() -> None:
    persona = parse(front("knowledge:\n  base: acme"))

    assert persona.knowledge == Knowledge("acme")
    assert persona.knowledge.top_k == 4
    assert persona.knowledge.min_similarity == 0.3
    assert persona.knowledge.scope == "open"
    assert persona.knowledge.refusal.startswith("Sorry, I can only help with questions about")


def test_knowledge_takes_every_setting() -> None:
    persona = parse(
        front(
            "knowledge:\n  base: acme\n  top_k: 10\n  min_similarity: 0\n  scope: strict\n"
            "  refusal: Only Acme questions, please."
        )
    )

    assert persona.knowledge == Knowledge("acme", 10, 0.0, "strict", "Only Acme questions, please.")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("base: ../secrets", "knowledge.base: String should match pattern"),
        ("base: Acme", "knowledge.base: String should match pattern"),
        ("top_k: 0", "knowledge.top_k: Input should be greater than or equal to 1"),
        ("top_k: 11", "knowledge.top_k: Input should be less than or equal to 10"),
        (
            "min_similarity: 1.5",
            "knowledge.min_similarity: Input should be less than or equal to 1",
        ),
        ("min_similarity: -0.1", "knowledge.min_similarity: Input should be greater than or equal"),
        ("scope: closed", "knowledge.scope: Input should be 'open' or 'strict'"),
        ("refusal: ''", "knowledge.refusal: String should have at least 1 character"),
        ("bsae: acme", "knowledge.bsae: unknown field (did you mean 'base'?)"),
    ],
)
def test_knowledge_values_are_checked(line: str, message: str) -> None:
    base = "" if line.startswith("base") else "  base: acme\n"
    problems = problems_of(front(f"knowledge:\n{base}  {line}"))

    assert problems[-1].startswith(f"prompts/ada.md:{4 if base else 3}: {message}")


def test_knowledge_base_must_exist_when_the_known_bases_are_given() -> None:
    raw = front("knowledge:\n  base: acme")

    assert parse(raw, knowledge_bases={"acme"}).knowledge == Knowledge("acme")
    assert problems_of(raw, knowledge_bases={"other"}) == [
        "prompts/ada.md:3: knowledge.base: no knowledge base 'acme' "
        "(prompts/knowledge/acme/); known: other"
    ]


# ── vocabulary ────────────────────────────────────────────────────────────────────────────


def test_vocabulary_lists_words_for_speech_recognition() -> None:
    persona = parse(front("vocabulary: [Zorblax, ' Quillora ', '  ']"))

    assert persona.vocabulary == ("Zorblax", "Quillora")


def test_vocabulary_must_be_a_list_of_strings() -> None:
    assert problems_of(front("vocabulary: Zorblax")) == [
        "prompts/ada.md:2: vocabulary: Input should be a valid list"
    ]


def test_vocabulary_items_point_at_their_own_line() -> None:
    assert problems_of(front("vocabulary:\n  - Zorblax\n  - 12")) == [
        "prompts/ada.md:4: vocabulary[1]: Input should be a valid string"
    ]


# ── avatar ────────────────────────────────────────────────────────────────────────────────


def _with_avatar(avatar_yaml: str) -> str:
    return front(f"name: Ada\navatar: {avatar_yaml}")


def test_a_persona_without_avatar_has_none() -> None:
    assert parse(VALID).avatar is None
    assert parse(_with_avatar("null")).avatar is None


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
    assert parse(_with_avatar(avatar_yaml)).avatar == expected
    assert parse_avatar(parse(_with_avatar(avatar_yaml)).avatar.url, "x.md").url == expected.url  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("avatar_yaml", "message"),
    [
        ("42", "avatar: must be a URL or a mapping with 'url' and optional 'format'"),
        ("[a.glb]", "avatar: must be a URL or a mapping with 'url' and optional 'format'"),
        ("''", "avatar.url: must be a non-empty string"),
        ("{format: glb}", "avatar.url: Field required"),
        ("{url: 7}", "avatar.url: Input should be a valid string"),
        ("ada.glb", "avatar.url: must be an http(s) URL or a path starting with '/' on this "),
        ("avatars/ada.glb", "avatar.url: must be an http(s) URL or a path starting with '/'"),
        ("//cdn.example.com/a.glb", "avatar.url: must be an http(s) URL or a path starting"),
        ("ftp://cdn.example.com/a.glb", "avatar.url: must be an http(s) URL or a path starting"),
        ("javascript:alert(1)", "avatar.url: must be an http(s) URL or a path starting"),
        ("'/avatars/my ada.glb'", "avatar.url: must be a URL of at most 2048 characters without"),
        ("{url: /a.glb, format: fbx}", "avatar.format: Input should be 'default', 'glb' or 'vrm'"),
        ("{url: /a.glb, fromat: vrm}", "avatar.fromat: unknown field (did you mean 'format'?)"),
    ],
)
def test_an_invalid_avatar_names_the_file_line_and_field(avatar_yaml: str, message: str) -> None:
    [problem] = problems_of(_with_avatar(avatar_yaml))

    assert problem.startswith(f"prompts/ada.md:3: {message}")


def test_parse_avatar_validates_a_value_on_its_own() -> None:
    assert parse_avatar({"url": "/a.vrm"}, "x.md") == Avatar("/a.vrm", "vrm")
    with pytest.raises(PersonaError, match=r"^x\.md: avatar\.url: must be an http"):
        parse_avatar("a.glb", "x.md")
    with pytest.raises(PersonaError, match=r"^x\.md: avatar: must be a URL"):
        parse_avatar(None, "x.md")


def test_an_overlong_avatar_url_is_refused() -> None:
    url = "https://cdn.example.com/" + "a" * 3000 + ".glb"

    [problem] = problems_of(_with_avatar(url))

    assert "at most 2048 characters" in problem


def test_the_avatar_is_part_of_the_persona_version() -> None:
    glb = parse(_with_avatar("/avatars/ada.glb"))
    vrm = parse(_with_avatar("/avatars/ada.vrm"))

    assert glb.version != vrm.version


# ── the shipped personas ──────────────────────────────────────────────────────────────────


def test_every_shipped_persona_loads_through_the_library(tmp_path: Path) -> None:
    library = PersonaLibrary(PROMPTS, history_dir=tmp_path / "history")
    ids = library.ids()

    assert {"default", "acme-support"} <= set(ids)
    assert "README" not in ids and "readme" not in ids
    for persona_id in ids:
        persona = library.get(persona_id)
        assert persona.id == persona_id
        assert persona.name.strip() and persona.greeting and persona.system_prompt
        assert "---" not in persona.system_prompt
        assert library.problems(persona_id) == ()


def test_the_default_persona_has_no_knowledge_base() -> None:
    persona = parse_persona("default", (PROMPTS / "default.md").read_bytes(), "default.md")

    assert persona.knowledge is None
    assert persona.name == "Ada"


def test_the_acme_support_persona_answers_strictly_from_the_acme_knowledge_base() -> None:
    path = PROMPTS / "acme-support.md"
    persona = parse_persona("acme-support", path.read_bytes(), str(path), today=TODAY)

    assert persona.knowledge is not None
    assert (persona.knowledge.base, persona.knowledge.scope) == ("acme", "strict")
    assert (PROMPTS / "knowledge" / "acme").is_dir()
    assert "Acme" in persona.vocabulary
    assert TODAY in persona.system_prompt
    assert "REFERENCE PASSAGES" in persona.system_prompt
