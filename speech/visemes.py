"""Phoneme symbols to Oculus / OVR LipSync visemes (pure, no TTS dependency).

The symbols are those an espeak-ng based voice (Piper) emits: IPA letters, one code point each,
plus stress and length marks, diacritics, word separators, punctuation and Piper's own
``^`` (start), ``$`` (end), ``_`` (pad) and ``#``. Every symbol falls in one of four kinds:

- a **phoneme**, with a mouth shape of its own (``PHONEME_VISEMES``);
- **silence** (``SILENT``): word separators, punctuation (its samples are pauses) and Piper's
  control symbols; the mouth rests (``Viseme.sil``);
- a **forward modifier** (stress marks ``ˈ ˌ``, which espeak writes before the stressed vowel):
  no shape of its own, its samples belong to the phoneme that follows;
- a **backward modifier** (length marks, diacritics, tie bars, tone digits): no shape of its own,
  its samples belong to the phoneme before it.

English maps by the Oculus table (REFERENCE.md section 2). The other IPA letters a voice's map
holds occur only in foreign words; each goes to the viseme nearest by articulation, by these rules:

- consonants by place: bilabial → PP, labiodental → FF, dental → TH, alveolar and retroflex
  stops and flaps → DD, palatal, velar, uvular, pharyngeal and glottal → kk, postalveolar,
  alveolo-palatal and retroflex sibilants → CH, alveolar sibilants → SS, nasals (except
  bilabial, labiodental and dorsal ones) and all laterals → nn, r-coloured approximants → RR;
- vowels by height and rounding: open unrounded → aa, mid unrounded → E, close unrounded → I,
  mid and open rounded → O, close rounded and labial-velar/-palatal approximants → U.

espeak writes affricates as two symbols (``t`` + ``ʃ``), so ``t`` alone is DD and ``ʃ`` alone
is CH; the joined spellings (``tʃ``, ``t͡ʃ``, ``ʧ``) are in the table too, for callers whose
phonemiser emits them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Final


class Viseme(IntEnum):
    """Oculus 15 viseme ids; ``name`` is the Oculus name TalkingHead and RPM avatars use."""

    sil = 0
    PP = 1
    FF = 2
    TH = 3
    DD = 4
    kk = 5
    CH = 6
    SS = 7
    nn = 8
    RR = 9
    aa = 10
    E = 11
    I = 12  # noqa: E741 - the Oculus name
    O = 13  # noqa: E741 - the Oculus name
    U = 14


VISEME_GROUPS: Final[Mapping[Viseme, tuple[str, ...]]] = MappingProxyType(
    {
        # Bilabial: stops, implosive, trill, fricatives, click.
        Viseme.PP: ("p", "b", "m", "ɓ", "ʙ", "ɸ", "β", "ʘ"),
        # Labiodental: fricatives, nasal, approximant, flap.
        Viseme.FF: ("f", "v", "ɱ", "ʋ", "ⱱ"),
        # Dental fricatives and the dental click.
        Viseme.TH: ("θ", "ð", "ǀ"),
        # Alveolar and retroflex stops and flaps, the implosive, the (post)alveolar clicks.
        Viseme.DD: ("t", "d", "ɾ", "ɗ", "ʈ", "ɖ", "ɽ", "ǃ", "ǂ"),
        # Palatal, velar, uvular, pharyngeal, epiglottal and glottal consonants (tongue body or
        # throat; the lips stay neutral), the uvular rhotics included.
        Viseme.kk: (
            *("k", "g", "ɡ", "ŋ", "h", "x", "ɦ", "ʔ", "ɣ", "ɰ", "ɠ"),
            *("c", "ɟ", "ʄ", "ç", "ʝ"),
            *("q", "ɢ", "ʛ", "ɴ", "χ", "ʁ", "ʀ"),
            *("ħ", "ʕ", "ʜ", "ʢ", "ʡ"),
        ),
        # Postalveolar, alveolo-palatal and retroflex sibilants, affricates as one symbol.
        Viseme.CH: (
            *("ʃ", "ʒ", "ɕ", "ʑ", "ʂ", "ʐ", "ɧ"),
            *("tʃ", "dʒ", "t͡ʃ", "d͡ʒ", "ʧ", "ʤ"),
        ),
        # Alveolar sibilants and their affricates.
        Viseme.SS: ("s", "z", "ts", "dz", "t͡s", "d͡z", "ʦ", "ʣ"),
        # Alveolar, retroflex and palatal nasals; every lateral.
        Viseme.nn: ("n", "ɳ", "ɲ", "l", "ɫ", "ɭ", "ʎ", "ʟ", "ɬ", "ɮ", "ɺ", "ǁ"),
        # Rhotic approximants and trill, r-coloured vowels.
        Viseme.RR: ("ɹ", "r", "ɻ", "ɚ", "ɝ"),
        # Open and central unrounded vowels.
        Viseme.aa: ("ɑ", "a", "æ", "ʌ", "ə", "ɐ"),
        # Mid unrounded vowels ("ε" is the Greek letter some phonemisers write for ɛ).
        Viseme.E: ("e", "ɛ", "ɜ", "ε", "ɘ", "ɤ"),
        # Close unrounded vowels and the palatal approximant.
        Viseme.I: ("i", "ɪ", "j", "ᵻ", "ɨ", "ɯ"),
        # Mid and open rounded vowels.
        Viseme.O: ("o", "ɔ", "ɒ", "ø", "œ", "ɶ", "ɵ", "ɞ"),
        # Close rounded vowels, labial-velar and labial-palatal approximants.
        Viseme.U: ("u", "ʊ", "w", "y", "ʏ", "ʉ", "ɥ", "ʍ"),
    }
)

PHONEME_VISEMES: Final[Mapping[str, Viseme]] = MappingProxyType(
    {symbol: viseme for viseme, symbols in VISEME_GROUPS.items() for symbol in symbols}
)

FORWARD_MODIFIERS: Final = frozenset(
    {
        "ˈ",  # primary stress
        "ˌ",  # secondary stress
        "↓",  # downstep
        "↑",  # upstep
    }
)

BACKWARD_MODIFIERS: Final = frozenset(
    {
        *("ː", "ˑ"),  # long, half-long
        *("ʲ", "ʰ", "ʷ", "ˠ", "ˤ", "˞", "ⁿ", "ˡ"),  # secondary articulations, release, rhoticity
        "\u0303",  # nasalised
        "\u0329",  # syllabic
        "\u032f",  # non-syllabic
        "\u032a",  # dental
        "\u0327",  # cedilla
        "\u0325",  # voiceless
        "\u032c",  # voiced
        "\u031a",  # no audible release
        "\u0308",  # centralised
        "\u0306",  # extra-short
        "\u031d",  # raised
        "\u031e",  # lowered
        "\u031f",  # advanced
        "\u0320",  # retracted
        "\u0339",  # more rounded
        "\u031c",  # less rounded
        "\u033a",  # apical
        "\u033b",  # laminal
        "\u033c",  # linguolabial
        "\u0330",  # creaky voice
        "\u0324",  # breathy voice
        "\u030a",  # voiceless (above)
        "\u0334",  # velarised or pharyngealised
        "\u0318",  # advanced tongue root
        "\u0319",  # retracted tongue root
        "\u0361",  # tie bar above
        "\u035c",  # tie bar below
        *"0123456789",  # tone numbers
    }
)

MODIFIERS: Final = FORWARD_MODIFIERS | BACKWARD_MODIFIERS

SILENT: Final = frozenset(
    {
        " ",  # word separator
        *("^", "$", "_", "#"),  # Piper: start, end, pad, phrase break
        *("!", "'", '"', "(", ")", ",", "-", ".", ":", ";", "?", "…", "—", "–", "¡", "¿"),
        *("|", "‖"),  # prosodic group boundaries
    }
)

UNKNOWN_VISEME: Final = Viseme.kk
"""Shown for an unknown letter: a neutral, slightly open mouth (no lip closure, no wide vowel),
the shape that looks least wrong next to any neighbour."""


class SymbolKind(Enum):
    PHONEME = "phoneme"
    SILENCE = "silence"
    FORWARD_MODIFIER = "forward_modifier"
    BACKWARD_MODIFIER = "backward_modifier"


@dataclass(frozen=True, slots=True)
class SymbolClass:
    """What a symbol does to the mouth.

    ``viseme`` is None for modifiers. ``known`` is False for a symbol none of the tables holds;
    it is then classified by its Unicode category (``classify``).
    """

    kind: SymbolKind
    viseme: Viseme | None
    known: bool


_FORWARD: Final = SymbolClass(SymbolKind.FORWARD_MODIFIER, None, known=True)
_BACKWARD: Final = SymbolClass(SymbolKind.BACKWARD_MODIFIER, None, known=True)
_SILENCE: Final = SymbolClass(SymbolKind.SILENCE, Viseme.sil, known=True)


def classify(symbol: str) -> SymbolClass:
    """The kind and viseme of one phoneme symbol, as a Piper alignment entry spells it.

    Symbols outside the tables are ``known=False`` and classified by the Unicode category of
    their first character, so that timing stays consistent: punctuation, separators, symbols
    and control characters are silence; combining marks and modifier letters are backward
    modifiers; anything else (a letter or digit the tables lack) is a phoneme shown as
    ``UNKNOWN_VISEME``. The empty string is unknown silence.
    """
    viseme = PHONEME_VISEMES.get(symbol)
    if viseme is not None:
        return SymbolClass(SymbolKind.PHONEME, viseme, known=True)
    if symbol in FORWARD_MODIFIERS:
        return _FORWARD
    if symbol in BACKWARD_MODIFIERS:
        return _BACKWARD
    if symbol in SILENT:
        return _SILENCE
    category = unicodedata.category(symbol[0]) if symbol else "Zs"
    if category in {"Mn", "Me", "Lm", "Sk"}:
        return SymbolClass(SymbolKind.BACKWARD_MODIFIER, None, known=False)
    if category[0] in "PZSC":
        return SymbolClass(SymbolKind.SILENCE, Viseme.sil, known=False)
    return SymbolClass(SymbolKind.PHONEME, UNKNOWN_VISEME, known=False)


def viseme_for(symbol: str) -> Viseme | None:
    """The viseme of a phoneme or silent symbol; None for a modifier or an unknown symbol."""
    if symbol in SILENT:
        return Viseme.sil
    return PHONEME_VISEMES.get(symbol)
