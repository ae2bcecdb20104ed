"""speech/chunker.py: streamed LLM text becomes clean, speakable chunks with expression cues."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypedDict, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speech.chunker import (
    EXPRESSIONS,
    Chunk,
    ExpressionCue,
    SpeechChunker,
    classify_expression,
)


class Options(TypedDict, total=False):
    first_min_words: int
    min_words: int
    max_chars: int


def chunks_of(deltas: str | Sequence[str], **options: Unpack[Options]) -> list[Chunk]:
    """Every chunk of one reply fed as ``deltas`` (a string is one delta), flush included."""
    chunker = SpeechChunker(**options)
    chunks: list[Chunk] = []
    for delta in [deltas] if isinstance(deltas, str) else deltas:
        chunks += chunker.push(delta)
    return chunks + chunker.flush()


def texts(deltas: str | Sequence[str], **options: Unpack[Options]) -> list[str]:
    return [chunk.text for chunk in chunks_of(deltas, **options)]


def spoken(deltas: str | Sequence[str], **options: Unpack[Options]) -> str:
    """Everything spoken for a reply, chunks joined by single spaces."""
    return " ".join(texts(deltas, **options))


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"first_min_words": 0}, {"min_words": 0}, {"max_chars": 0}],
)
def test_word_counts_and_max_chars_below_one_are_rejected(options: Options) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SpeechChunker(**options)


def test_defaults_cut_a_typical_reply_at_clauses_and_sentences() -> None:
    reply = "Sure, I can help with that, let me check. The price is 3.5 dollars. Anything else?"

    assert texts(reply) == [
        "Sure, I can help with that,",
        "let me check.",
        "The price is 3.5 dollars.",
        "Anything else?",
    ]


# --- sentence ends ------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [".", "!", "?", "…", "?!", "...", '."', "!)", "?”", ".'"])
def test_every_kind_of_sentence_end_followed_by_whitespace_cuts(end: str) -> None:
    assert texts(f"Yes{end} Go on.") == [f"Yes{end}", "Go on."]


def test_a_sentence_end_cuts_regardless_of_min_words() -> None:
    assert texts("Hi! Yes. Ok.", first_min_words=3, min_words=3) == ["Hi!", "Yes.", "Ok."]


def test_sentence_punctuation_not_followed_by_whitespace_does_not_cut() -> None:
    assert texts("Hi!How are you?") == ["Hi!How are you?"]


def test_a_period_at_the_end_of_a_delta_waits_for_the_next_character() -> None:
    chunker = SpeechChunker()

    assert chunker.push("It costs 3.") == []
    assert chunker.push("5 euros. More") == [Chunk("It costs 3.5 euros.")]
    assert chunker.flush() == [Chunk("More")]


def test_a_boundary_is_cut_only_once_the_next_word_begins() -> None:
    chunker = SpeechChunker()

    assert chunker.push("Hello. ") == []
    assert chunker.push(" \t") == []
    assert chunker.push("How") == [Chunk("Hello.")]


@pytest.mark.parametrize("number", ["3.5", "1,000", "1,000,000.25", "3:30", "v2.0.1"])
def test_numbers_are_not_split(number: str) -> None:
    assert texts(f"It is {number} now. Ok.", first_min_words=1) == [f"It is {number} now.", "Ok."]


@pytest.mark.parametrize(
    "abbreviation",
    ["e.g.", "i.e.", "Dr.", "Mr.", "Mrs.", "Ms.", "St.", "vs.", "etc.", "a.m.", "p.m.", "U.S."],
)
def test_common_abbreviations_do_not_end_a_sentence(abbreviation: str) -> None:
    assert texts(f"Ask {abbreviation} Smith now.") == [f"Ask {abbreviation} Smith now."]


def test_abbreviations_inside_brackets_and_unknown_dotted_acronyms_do_not_end_a_sentence() -> None:
    assert texts("Fruit (e.g.) and U.S.A. too.") == ["Fruit (e.g.) and U.S.A. too."]


def test_initials_do_not_end_a_sentence() -> None:
    assert texts("J. K. Rowling wrote it. Then") == ["J. K. Rowling wrote it.", "Then"]


def test_the_pronoun_i_ends_a_sentence_unlike_an_initial() -> None:
    assert texts("So did I. Then we left.") == ["So did I.", "Then we left."]


def test_a_sentence_end_needs_a_word_before_it() -> None:
    assert texts("... Hello there.") == ["... Hello there."]


# --- clause boundaries --------------------------------------------------------------------------


@pytest.mark.parametrize("mark", [",", ";", ":", "—", "–", " -", " --", " —", ',"', ":)"])
def test_every_clause_boundary_cuts_once_enough_words_are_pending(mark: str) -> None:
    assert texts(f"One two{mark} three four") == [f"One two{mark}", "three four"]


def test_the_first_chunk_comes_at_the_first_clause_boundary_with_first_min_words() -> None:
    chunker = SpeechChunker(first_min_words=2)

    assert chunker.push("Well, okay,") == []
    assert chunker.push(" so") == [Chunk("Well, okay,")]


def test_later_chunks_need_min_words_at_a_clause_boundary() -> None:
    reply = "Hello there! Yes, of course, I would love to help, let us start."

    assert texts(reply, first_min_words=2, min_words=5) == [
        "Hello there!",
        "Yes, of course, I would love to help,",
        "let us start.",
    ]


def test_a_hyphen_inside_or_after_a_word_is_not_a_clause_boundary() -> None:
    assert texts("A well-known pre- and post-war view") == ["A well-known pre- and post-war view"]


def test_clause_punctuation_without_whitespace_after_it_is_not_a_boundary() -> None:
    assert texts("Red,green;blue:white—black") == ["Red,green;blue:white—black"]


# --- line breaks --------------------------------------------------------------------------------


def test_a_line_break_ends_a_chunk_even_without_punctuation() -> None:
    assert texts("First line\nsecond line") == ["First line", "second line"]


def test_blank_lines_and_spaces_around_a_line_break_make_one_break() -> None:
    chunker = SpeechChunker()

    assert chunker.push("Paragraph one ") == []
    assert chunker.push(" \n\n  ") == []
    assert chunker.push("Paragraph two") == [Chunk("Paragraph one")]


def test_a_line_break_after_a_tag_still_breaks_and_the_cue_follows_it() -> None:
    assert chunks_of(["Hello [smile]", "\nWorld"]) == [
        Chunk("Hello"),
        Chunk("World", (ExpressionCue(0, "smile"),)),
    ]


# --- max_chars ----------------------------------------------------------------------------------


def test_text_without_boundaries_is_cut_at_the_last_space_within_max_chars() -> None:
    assert texts("aaaa bbbb cccc dddd eeee ffff", max_chars=12) == [
        "aaaa bbbb",
        "cccc dddd",
        "eeee ffff",
    ]


def test_text_past_max_chars_is_cut_at_its_last_short_clause_boundary() -> None:
    reply = "One two, three four five six"

    assert texts(reply, first_min_words=5, max_chars=20) == ["One two,", "three four five six"]


def test_a_word_longer_than_max_chars_is_never_split() -> None:
    chunker = SpeechChunker(max_chars=10)

    assert chunker.push("Supercalifragilistic") == []
    assert chunker.push(" is a word") == [Chunk("Supercalifragilistic")]
    assert chunker.flush() == [Chunk("is a word")]


def test_a_wordless_stretch_longer_than_max_chars_is_dropped() -> None:
    assert texts("!!!!!!!!!!!! word", max_chars=5) == ["word"]


def test_a_separator_after_only_wordless_text_is_not_a_max_chars_cut() -> None:
    assert texts("— — — — word and more", max_chars=12) == ["— — — — word", "and more"]


# --- never empty --------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["", "   ", "\n\n", "😀 🎉", "[smile]", "**", "...", "- "])
def test_no_chunk_is_emitted_for_a_reply_without_words(reply: str) -> None:
    assert chunks_of(reply) == []


def test_a_wordless_rest_and_the_tag_pointing_into_it_are_dropped() -> None:
    assert chunks_of("Bye now! [wink] ...") == [Chunk("Bye now!")]


def test_punctuation_left_alone_by_a_removed_emoji_or_tag_joins_its_word() -> None:
    assert texts("That's great 😀 ! Sure [smile] , I can .", first_min_words=1, min_words=1) == [
        "That's great!",
        "Sure,",
        "I can.",
    ]


# --- cleaning -----------------------------------------------------------------------------------


def test_markdown_emphasis_and_code_markers_are_removed() -> None:
    assert spoken("**bold** and *it* and __under__ and `code` ok") == (
        "bold and it and under and code ok"
    )


@pytest.mark.parametrize(
    "line",
    ["# Title", "### Title", "- Title", "* Title", "+ Title", "1. Title", "12) Title", "  - Title"],
)
def test_heading_and_list_markers_at_a_line_start_are_removed(line: str) -> None:
    assert texts(f"Intro\n{line}") == ["Intro", "Title"]
    assert texts(line) == ["Title"]


@pytest.mark.parametrize("line", ["#1 pick", "2.5 litres", "-5 degrees", "1234. Done", "- "])
def test_line_starts_that_are_not_markers_are_kept(line: str) -> None:
    assert spoken(line) == line.replace("- ", "")


def test_markers_in_the_middle_of_a_line_are_text() -> None:
    assert spoken("Pick #1 - 3 + 4") == "Pick #1 - 3 + 4"


@pytest.mark.parametrize("deltas", [["1", ". Title"], ["#", "#", " Title"], ["-", " Title"]])
def test_a_line_start_marker_split_across_deltas_is_removed(deltas: list[str]) -> None:
    assert texts(deltas) == ["Title"]


def test_a_link_keeps_its_text_and_drops_its_url() -> None:
    reply = "See [the docs](https://a.org/Foo_(bar)?q=1) or [here](http://x.y). Ok"

    assert spoken(reply) == "See the docs or here. Ok"


def test_a_link_split_across_deltas_keeps_its_text_and_drops_its_url() -> None:
    deltas = ["See [", "here", "]", "(", "http://", "x.y", ")", " now"]

    assert spoken(deltas) == "See here now"


def test_square_brackets_are_removed_from_text_that_is_no_tag_or_link() -> None:
    assert spoken("See [1] and [Note: this] too") == "See 1 and Note: this too"


def test_a_link_target_with_whitespace_is_ordinary_text() -> None:
    assert spoken("[a](b c)") == "a(b c)"


def test_an_unfinished_link_target_at_the_end_of_the_reply_is_ordinary_text() -> None:
    assert spoken(["[a](http://x", ".y"]) == "a(http://x.y"


def test_an_overlong_link_target_is_ordinary_text_however_it_is_split() -> None:
    target = "(" + "x" * 2100 + ")"
    reply = f"Go [there]{target} now"
    deltas = [reply[i : i + 7] for i in range(0, len(reply), 7)]

    assert (
        texts(deltas, max_chars=5000) == texts(reply, max_chars=5000) == [f"Go there{target} now"]
    )


def test_emoji_and_pictographs_are_removed() -> None:
    reply = "Great 👍🏽 job ❤️ 🇺🇸 ⭐ ▶ ⏰ 👨‍👩‍👧 🏴󠁧󠁢󠁳󠁣󠁴󠁿 • done 1️⃣"

    assert spoken(reply) == "Great job done 1"


def test_punctuation_apostrophes_numbers_and_currency_are_kept() -> None:
    reply = "It's $5.99 or €3 (not £2) & 50% off — isn’t it “cheap”?"

    assert spoken(reply, first_min_words=20, min_words=20) == reply


def test_whitespace_and_zero_width_spaces_are_collapsed() -> None:
    assert texts("  Hello \t  there\u200b\ufeff  friend  ") == ["Hello there friend"]


@pytest.mark.parametrize("reply", ["if x < 5 then", "I <3 you", "a <B> b", "x <", "x <y"])
def test_an_angle_bracket_that_opens_no_tag_is_kept(reply: str) -> None:
    assert spoken(reply) == reply


# --- expression tags ----------------------------------------------------------------------------


def test_a_tag_is_stripped_and_recorded_at_the_word_that_follows_it() -> None:
    assert chunks_of("I think [thinking] we should go.") == [
        Chunk("I think we should go.", (ExpressionCue(2, "thinking"),))
    ]


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_every_known_expression_is_recorded_from_square_or_angle_brackets(name: str) -> None:
    expected = [Chunk("Hi there.", (ExpressionCue(0, name),))]

    assert chunks_of(f"[{name}] Hi there.") == expected
    assert chunks_of(f"<{name}>Hi there.") == expected


def test_a_tag_at_the_end_of_a_chunk_points_at_its_last_word() -> None:
    assert chunks_of("Nice to meet you [smile]") == [
        Chunk("Nice to meet you", (ExpressionCue(3, "smile"),))
    ]


def test_a_tag_after_a_sentence_end_at_the_end_of_the_reply_stays_with_it() -> None:
    assert chunks_of("Bye! [wink]") == [Chunk("Bye!", (ExpressionCue(0, "wink"),))]


def test_a_tag_after_a_cut_belongs_to_the_next_chunk() -> None:
    assert chunks_of("Great news! [smile] We did it.") == [
        Chunk("Great news!"),
        Chunk("We did it.", (ExpressionCue(0, "smile"),)),
    ]


def test_a_tag_between_words_separates_them() -> None:
    assert chunks_of("Hi[smile]there") == [Chunk("Hi there", (ExpressionCue(1, "smile"),))]


def test_several_tags_in_one_chunk_keep_their_order() -> None:
    assert chunks_of("<sad>Sorry about that [wink]").pop().expressions == (
        ExpressionCue(0, "sad"),
        ExpressionCue(2, "wink"),
    )


def test_unknown_and_closing_tags_are_stripped_but_not_recorded() -> None:
    assert chunks_of("[foo] Hi <b>there</b> [/smile] friend.") == [Chunk("Hi there friend.")]


def test_a_capitalised_bracketed_word_is_text_not_a_tag() -> None:
    assert chunks_of("[Note] hi") == [Chunk("Note hi")]


def test_a_custom_expression_set_replaces_the_default() -> None:
    chunker = SpeechChunker(expressions=frozenset({"angry"}))

    assert chunker.push("[angry] No [smile] way") == []
    assert chunker.flush() == [Chunk("No way", (ExpressionCue(0, "angry"),))]


@pytest.mark.parametrize(
    "deltas",
    [
        ["[sm", "ile] Hi there."],
        ["[", "smile", "]", " Hi there."],
        ["<sa", "d>Hi there."],
        ["[smile]", " Hi there."],
        ["[smile", "]Hi there", "."],
    ],
)
def test_a_tag_split_across_deltas_is_still_a_tag(deltas: list[str]) -> None:
    name = "sad" if "<" in deltas[0] else "smile"

    assert chunks_of(deltas) == [Chunk("Hi there.", (ExpressionCue(0, name),))]


def test_an_unclosed_bracket_is_held_back_until_it_can_no_longer_be_a_tag() -> None:
    chunker = SpeechChunker(first_min_words=1)

    assert chunker.push("Hi, [") == []
    assert chunker.push("abcdefghijklmno") == []  # 15 letters: still a possible tag
    assert chunker.push("p") == [Chunk("Hi,")]  # 16: ordinary text
    assert chunker.flush() == [Chunk("abcdefghijklmnop")]


def test_a_bracket_opening_something_other_than_a_word_is_released_at_once() -> None:
    chunker = SpeechChunker(first_min_words=1)

    assert chunker.push("Hi, <") == []
    assert chunker.push("3 you") == [Chunk("Hi,")]
    assert chunker.flush() == [Chunk("<3 you")]


def test_an_unclosed_tag_at_the_end_of_the_reply_is_ordinary_text() -> None:
    assert texts(["Hi [sm"]) == ["Hi sm"]
    assert texts(["Hi <sm"]) == ["Hi <sm"]


def test_a_one_word_link_at_the_end_of_a_delta_waits_to_tell_it_from_a_tag() -> None:
    chunker = SpeechChunker()

    assert chunker.push("See [here]") == []
    assert chunker.push("(http://x.y) now") == []
    assert chunker.flush() == [Chunk("See here now")]


# --- a chunker serves one reply after another ---------------------------------------------------


def test_flush_resets_the_chunker_for_the_next_reply() -> None:
    chunker = SpeechChunker(first_min_words=1, min_words=5)
    chunker.push("Hi, there, you [sm")
    chunker.flush()

    assert chunker.push("- Yes, of") == [Chunk("Yes,")]
    assert chunker.flush() == [Chunk("of")]


# --- properties ---------------------------------------------------------------------------------

FRAGMENTS = [
    *"aJ5 .,!?…;:—-\n#*_`[]()<>/\"'😀\u200d",
    "[smile]", "<sad>", "[foo]", "[/wink]", "[sm", "ile]", "[Note]",
    "[docs](http://x.y/a_(b))", "](", "http://x", "e.g.", "Dr.", "U.S.", "3.5", "1,000",
    "J. ", "- ", "1. ", "## ", " - ", "... ", "?! ", ".\" ", "hello", "world", "Well",
]  # fmt: skip

options = st.fixed_dictionaries(
    {
        "first_min_words": st.integers(1, 3),
        "min_words": st.integers(1, 6),
        "max_chars": st.integers(5, 60),
    }
)


@st.composite
def split(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.data(), options)
def test_any_split_into_deltas_gives_the_same_chunks_as_the_whole_text(
    data: st.DataObject, config: Options
) -> None:
    pieces = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3))
    text = "".join(data.draw(st.lists(pieces, max_size=40), label="pieces"))
    deltas = data.draw(split(text), label="deltas")

    whole = chunks_of(text, **config)

    assert chunks_of(deltas, **config) == whole
    for chunk in whole:
        assert chunk.text == " ".join(chunk.text.split())
        assert any(char.isalnum() for char in chunk.text)
        # Longer only to keep a word whole: wordless tokens such as "--" may precede it.
        words = [token for token in chunk.text.split() if any(c.isalnum() for c in token)]
        assert len(chunk.text) <= config["max_chars"] or len(words) == 1
        assert not re.search(r"[*_`\[\]😀\u200d]|\[smile\]|<sad>", chunk.text)
        for cue in chunk.expressions:
            assert cue.name in EXPRESSIONS
            assert 0 <= cue.word_index < len(chunk.text.split())


WORDS = ["hello", "Dr.", "e.g.", "3.5", "1,000", "$5", "don't", "U.S.", "J.", "3:30", "well-known"]
ENDINGS = ["", "", "", ",", ".", "!", "?", "?!", "…", ";", ":", "—"]
SEPARATORS = [" ", " ", " ", "\n", "  ", " \n\n", "\t"]
DECORATIONS = ["{}", "{}", "**{}**", "_{}_", "`{}`", "{} 😀", "[{}](http://x.y)"]


@st.composite
def marked_up_reply(draw: st.DrawFn) -> tuple[str, list[str], list[tuple[int, str]]]:
    """A reply with Markdown, emoji and tags, its words as spoken, and (word index, tag) cues."""
    raw: list[str] = []
    words: list[str] = []
    cues: list[tuple[int, str]] = []
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.booleans()):
            tag = draw(st.sampled_from(["smile", "laugh", "thinking", "foo"]))
            raw.append(draw(st.sampled_from(["[{}]", "<{}>", " [{}] "])).format(tag))
            if tag in EXPRESSIONS:
                cues.append((len(words), tag))
        word = draw(st.sampled_from(WORDS)) + draw(st.sampled_from(ENDINGS))
        raw.append(draw(st.sampled_from(DECORATIONS)).format(word))
        raw.append(draw(st.sampled_from(SEPARATORS)))
        words.append(word)
    return "".join(raw), words, cues


@settings(max_examples=200, deadline=None)
@given(marked_up_reply(), options, st.data())
def test_chunks_hold_every_word_once_in_order_and_cues_point_at_the_tagged_word(
    reply: tuple[str, list[str], list[tuple[int, str]]],
    config: Options,
    data: st.DataObject,
) -> None:
    text, words, cues = reply

    chunks = chunks_of(data.draw(split(text), label="deltas"), **config)

    assert " ".join(chunk.text for chunk in chunks).split() == words
    first_word = 0
    found: list[tuple[int, str]] = []
    for chunk in chunks:
        found += [(first_word + cue.word_index, cue.name) for cue in chunk.expressions]
        first_word += len(chunk.text.split())
    assert found == cues


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30), options)
def test_a_reused_chunker_gives_the_same_chunks_as_a_new_one(
    fragments: list[str], config: Options
) -> None:
    text = "".join(fragments)
    chunker = SpeechChunker(**config)
    chunker.push("Earlier, [sm")
    chunker.flush()

    assert chunker.push(text) + chunker.flush() == chunks_of(text, **config)


# --- fallback expression classifier -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm sorry about that.", "sad"),
        ("Unfortunately it is closed.", "sad"),
        ("I’m afraid not.", "sad"),
        ("Please accept my apologies.", "sad"),
        ("Hi! Sorry for the wait.", "sad"),
        ("Wow, that is big.", "surprised"),
        ("Really? No way!", "surprised"),
        ("Hello there.", "smile"),
        ("Thanks a lot!", "smile"),
        ("Good morning, Sam.", "smile"),
        ("That's great!", "smile"),
        ("Congratulations on the new job.", "smile"),
        ("The train leaves at nine.", None),
        ("That's great.", None),
        ("", None),
    ],
)
def test_classify_expression_guesses_from_keywords_or_returns_none(
    text: str, expected: str | None
) -> None:
    assert classify_expression(text) == expected
