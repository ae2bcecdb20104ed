"""Word and viseme timings of one synthesised segment, from its phoneme alignments (pure).

Input: the ``(phoneme, num_samples)`` entries of a Piper-style alignment (one entry per symbol,
their samples adding up to the segment's audio), the sample rate and the segment's text.
Output: a ``Timeline`` in the TalkingHead shape (words, visemes, times in ms from the segment's
first sample).

**Milliseconds.** Every boundary is a sample position rounded to the nearest ms (halves up);
a duration is the difference of two rounded boundaries. Visemes therefore tile
``[0, duration_ms]`` exactly, and rounding never accumulates along a segment.

**Visemes.** Each symbol is classified by ``speech.visemes.classify``. Modifiers give their
samples to a neighbour: forward ones (stress marks) to the phoneme after them, backward ones
(length marks, diacritics) to the phoneme before them; next to silence or at an end, a modifier
joins the phoneme on its other side. Consecutive equal visemes merge; silence stays (the mouth
rests); a viseme shorter than half a millisecond vanishes in rounding.

**Words.** A phoneme word is a maximal run of phonemes between silent symbols. The text is
split on whitespace into labels; a token without a letter or digit ("—", "&") joins the label
before it (or the first one), so labels keep all punctuation ("Sundays!"). espeak often says
a different number of words: it reads numbers, times and symbols ("42" → "forty two"), joins
unstressed words ("in the" → ɪnðə, "out of" → aʊɾəv, "Main St." → meɪnstɹiːt) and reads some
tokens as several words ("www.example.com"). So labels are matched in three steps:

1. Each label is expanded into the words espeak is expected to say (``spoken_words``), each
   with an estimated phoneme count (``_estimate``: letters, less digraphs, doubled letters and
   a silent e; spelled-out abbreviations count their letters' names).
2. Spoken words are aligned with phoneme words by dynamic programming (``_align``): groups of
   one to one, several to one (joined), one to several (split), or one to none, each with a
   fixed cost (``_MOVES``) plus the difference between the phonemes the group has and those
   its spoken words are expected to have. Where several spoken words share one phoneme word,
   they divide its phonemes in proportion to their estimates. ``word_match`` is ``paired``
   when every group is one to one, ``aligned`` otherwise.
3. A label spans from the first phoneme of its first spoken word to the last phoneme before the
   next label, at least one phoneme each. With fewer phonemes than labels (or no speech), the
   voiced span (or the whole segment) is divided in proportion to the estimates (``spread``).

A word starts at its first phoneme's first sample and ends at its last phoneme's last sample,
modifiers included, so the pauses between words belong to no word. Every label gets a timing;
timings are in text order, do not overlap and lie inside the segment.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import accumulate, pairwise
from typing import Final

from speech.visemes import SymbolKind, Viseme, classify

_MOVES: Final = (
    ((1, 1), 0.0),
    *(((m, 1), m - 1.0) for m in (2, 3, 4)),  # espeak joined words ("in the" → ɪnðə)
    *(((1, n), 2.0 * (n - 1)) for n in (2, 3)),  # espeak split a word ("iPhone" → aɪ foʊn)
    ((1, 0), 3.0),  # a word espeak did not say
    ((0, 1), 3.0),  # a word espeak said that the text (as expanded) lacks
)
"""(spoken words, phoneme words) a group of the word alignment can hold, and its cost."""
_BAND: Final = 12  # phoneme words either side of the estimated path that the alignment searches


class WordMatch(Enum):
    """How the text's words were matched to the phoneme words (see the module docstring)."""

    PAIRED = "paired"
    ALIGNED = "aligned"
    SPREAD = "spread"


@dataclass(frozen=True, slots=True)
class WordTiming:
    text: str
    start_ms: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class VisemeTiming:
    viseme: Viseme
    start_ms: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """Timings of one segment, in ms from its first sample.

    ``unknown`` holds each symbol the viseme tables lack once, in order of first occurrence
    (``speech.visemes.classify`` says how it was shown). ``word_match`` says how words were
    matched.
    """

    words: tuple[WordTiming, ...]
    visemes: tuple[VisemeTiming, ...]
    duration_ms: int
    unknown: tuple[str, ...] = ()
    word_match: WordMatch = WordMatch.PAIRED


@dataclass(slots=True)
class _Segment:
    """Samples ``[start, end)`` of one phoneme or silence, the modifiers it absorbed included."""

    start: int
    end: int
    viseme: Viseme
    silent: bool
    gap: bool = False
    """A word separator: silent for word timing, but voiced audio (Piper runs words together)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    start: int
    end: int
    kind: SymbolKind


def build_timeline(alignments: Sequence[tuple[str, int]], sample_rate: int, text: str) -> Timeline:
    """The timeline of one segment.

    ``alignments`` are ``(symbol, num_samples)`` in order, covering the segment's audio from
    its first sample; ``text`` is what the segment says. Raises ValueError for a sample rate
    that is not positive or a negative sample count.
    """
    if sample_rate <= 0:
        raise ValueError("the sample rate must be positive")
    segments, unknown = _segments(alignments)
    total = segments[-1].end if segments else 0

    def ms(sample: int) -> int:
        return (2000 * sample + sample_rate) // (2 * sample_rate)

    words, match = _word_spans(segments, total, text)
    return Timeline(
        words=tuple(WordTiming(label, ms(a), ms(b) - ms(a)) for label, (a, b) in words),
        visemes=_visemes(segments, ms),
        duration_ms=ms(total),
        unknown=unknown,
        word_match=match,
    )


def _segments(alignments: Sequence[tuple[str, int]]) -> tuple[list[_Segment], tuple[str, ...]]:
    """Phonemes and silences with their samples, modifiers given to their neighbours."""
    segments: list[_Segment] = []
    pending: list[_Entry] = []  # modifiers since the last phoneme or silence
    unknown: dict[str, None] = {}
    position = 0
    for symbol, num_samples in alignments:
        if num_samples < 0:
            raise ValueError(f"negative sample count {num_samples} for {symbol!r}")
        symbol_class = classify(symbol)
        if not symbol_class.known:
            unknown.setdefault(symbol)
        entry = _Entry(position, position + num_samples, symbol_class.kind)
        position = entry.end
        if symbol_class.viseme is None:
            pending.append(entry)
            continue
        silent = symbol_class.kind is SymbolKind.SILENCE
        segment = _Segment(entry.start, entry.end, symbol_class.viseme, silent, gap=symbol == " ")
        _attach(pending, segments[-1] if segments else None, segment)
        pending.clear()
        segments.append(segment)
    if pending:
        if segments:
            _attach(pending, segments[-1], None)
        else:
            segments.append(_Segment(pending[0].start, pending[-1].end, Viseme.sil, silent=True))
    return segments, tuple(unknown)


def _attach(modifiers: list[_Entry], before: _Segment | None, after: _Segment | None) -> None:
    """Give the run of ``modifiers`` between ``before`` and ``after`` to one or both of them.

    Between two phonemes the run splits at its first forward modifier; next to silence or an
    end, all of it goes to the phoneme on the other side (or to the silence, if neither side is
    a phoneme).
    """
    if not modifiers:
        return
    before_voiced = before is not None and not before.silent
    after_voiced = after is not None and not after.silent
    if before_voiced and after_voiced:
        split = next(
            (i for i, m in enumerate(modifiers) if m.kind is SymbolKind.FORWARD_MODIFIER),
            len(modifiers),
        )
    elif before_voiced or (before is not None and not after_voiced):
        split = len(modifiers)
    else:
        split = 0
    boundary = modifiers[split].start if split < len(modifiers) else modifiers[-1].end
    if before is not None:
        before.end = boundary
    if after is not None:
        after.start = boundary


def _visemes(segments: list[_Segment], ms: Callable[[int], int]) -> tuple[VisemeTiming, ...]:
    timings: list[VisemeTiming] = []
    for index, segment in enumerate(segments):
        start, end = ms(segment.start), ms(segment.end)
        if end == start:
            continue
        viseme = segment.viseme
        between_words = (
            segment.gap
            and bool(timings)
            and timings[-1].viseme is not Viseme.sil
            and index + 1 < len(segments)
            and not segments[index + 1].silent
        )
        if between_words:
            # The gap between two words is voiced: keep the mouth moving, do not close it.
            viseme = timings[-1].viseme
        if timings and timings[-1].viseme is viseme:
            last = timings[-1]
            timings[-1] = VisemeTiming(last.viseme, last.start_ms, end - last.start_ms)
        else:
            timings.append(VisemeTiming(viseme, start, end - start))
    return tuple(timings)


# Words -------------------------------------------------------------------------------------


def _word_spans(
    segments: list[_Segment], total: int, text: str
) -> tuple[list[tuple[str, tuple[int, int]]], WordMatch]:
    """Each label of ``text`` with its span in samples, and how they were matched."""
    labels = _labels(text)
    phonemes: list[_Segment] = []
    firsts: list[int] = []  # the first phoneme of each phoneme word
    for index, segment in enumerate(segments):
        if not segment.silent:
            if index == 0 or segments[index - 1].silent:
                firsts.append(len(phonemes))
            phonemes.append(segment)
    if not labels:
        return [], WordMatch.SPREAD if phonemes else WordMatch.PAIRED
    spoken = [spoken_words(label) or (label,) for label in labels]
    if len(phonemes) < len(labels):
        low, high = (phonemes[0].start, phonemes[-1].end) if phonemes else (0, total)
        weights = [sum(_estimate(w) for w in words) for words in spoken]
        cumulative = list(accumulate(weights, initial=0))
        edges = [low + (high - low) * c // cumulative[-1] for c in cumulative]
        return list(zip(labels, pairwise(edges), strict=True)), WordMatch.SPREAD
    starts, paired = _align(
        [_estimate(w) for words in spoken for w in words], [*firsts, len(phonemes)]
    )
    firsts_of_labels = list(accumulate((len(words) for words in spoken[:-1]), initial=0))
    bounds = [0]
    for k, first in enumerate(firsts_of_labels[1:], start=1):
        bounds.append(min(max(starts[first], bounds[-1] + 1), len(phonemes) - len(labels) + k))
    bounds.append(len(phonemes))
    spans = [(phonemes[a].start, phonemes[b - 1].end) for a, b in pairwise(bounds)]
    return list(zip(labels, spans, strict=True)), WordMatch.PAIRED if paired else WordMatch.ALIGNED


def _align(estimates: list[int], firsts: list[int]) -> tuple[list[int], bool]:
    """The first phoneme of each spoken word, and whether every match was one to one.

    ``estimates`` are the spoken words' expected phoneme counts; ``firsts`` the first phoneme
    of each phoneme word, then the number of phonemes. A dynamic programme groups spoken words
    with phoneme words (``_MOVES``); a group costs its move's cost plus the difference between
    the phonemes it has and those its spoken words are expected to have (scaled to the total).
    Within a group, spoken words divide its phonemes in proportion to their estimates. Only
    cells within ``_BAND`` phoneme words of where the estimates put a spoken word are searched,
    which keeps long texts linear; the full table is the fallback.
    """
    spoken, heard = len(estimates), len(firsts) - 1
    scale = firsts[-1] / sum(estimates)
    expected = list(accumulate((e * scale for e in estimates), initial=0.0))
    guide = [bisect_left(firsts, e, 0, heard) for e in expected]
    move, reached = _moves(firsts, expected, guide, _BAND)
    if not reached:
        move, reached = _moves(firsts, expected, guide, heard)
    starts = [0] * spoken
    i, j, paired = spoken, heard, True
    while i or j:
        m, n = move[i][j]
        paired = paired and (m, n) == (1, 1)
        low, high = firsts[j - n], firsts[j]
        weight = sum(estimates[i - m : i])
        for k in range(i - m, i):
            share = sum(estimates[i - m : k]) / weight
            starts[k] = low + math.floor((high - low) * share + 0.5)
        i, j = i - m, j - n
    return starts, paired


def _moves(
    firsts: list[int], expected: list[float], guide: list[int], band: int
) -> tuple[list[list[tuple[int, int]]], bool]:
    """The best last move into each cell (spoken words i, phoneme words j) within ``band`` of
    ``guide``, and whether the last cell was reached."""
    spoken, heard = len(expected) - 1, len(firsts) - 1
    cost = [[math.inf] * (heard + 1) for _ in range(spoken + 1)]
    move = [[(0, 0)] * (heard + 1) for _ in range(spoken + 1)]
    cost[0][0] = 0.0
    for i in range(spoken + 1):
        for j in range(max(0, guide[i] - band), min(heard, guide[i] + band) + 1):
            for (m, n), penalty in _MOVES:
                if m <= i and n <= j:
                    have = firsts[j] - firsts[j - n]
                    candidate = (
                        cost[i - m][j - n] + penalty + abs(have - expected[i] + expected[i - m])
                    )
                    if candidate < cost[i][j]:
                        cost[i][j], move[i][j] = candidate, (m, n)
    return move, cost[spoken][heard] < math.inf


def _labels(text: str) -> list[str]:
    """The words of ``text``; tokens without a letter or digit join a neighbouring word."""
    labels: list[str] = []
    loose: list[str] = []  # punctuation before the first word
    for token in text.split():
        if any(c.isalnum() for c in token):
            labels.append(" ".join([*loose, token]))
            loose.clear()
        elif labels:
            labels[-1] = f"{labels[-1]} {token}"
        else:
            loose.append(token)
    return labels


# Spoken words ------------------------------------------------------------------------------

_ONES: Final = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
_TENS: Final = (
    *("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"),
)
_SCALES: Final = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_SYMBOL_WORDS: Final = dict(
    zip("$%#&+/@.", ("dollar", "percent", "hash", "and", "plus", "slash", "at", "dot"), strict=True)
)
_LONGEST_CARDINAL: Final = 15  # digits; longer numbers are read digit by digit
_LETTER: Final = r"[^\W\d_]"
_PIECE: Final = re.compile(
    rf"(?P<hour>(?<!\d)\d{{1,2}}):(?P<minute>\d\d)(?!\d)"
    rf"|(?P<number>\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+)(?:\.(?P<decimals>\d+))?"
    rf"(?:(?:st|nd|rd|th)(?!{_LETTER}))?"  # an ordinal has as many words as its cardinal
    rf"|(?P<initials>{_LETTER}(?:\.{_LETTER}(?!{_LETTER}))+\.?)"  # U.S., e.g., a.m.
    rf"|(?P<letters>{_LETTER}+(?:[-'’]{_LETTER}+)*)"  # well-known, don't
    rf"|(?P<symbol>[$%#&+/@]|-(?=\d)|(?<={_LETTER})\.(?={_LETTER}))"  # -5, example.com
)


def spoken_words(word: str) -> tuple[str, ...]:
    """The words an English espeak voice is expected to say for one written word.

    Only the count and rough length matter (they steer word matching), so the spelling is
    approximate; the grouping follows espeak: "42" → ("forty", "two"), "115" → ("one hundred",
    "fifteen") (espeak says "hundred" as part of the word before it), "1999" →
    ("nineteen hundred", "ninety", "nine"), "10:30" → ("ten", "thirty"), "3.5" → ("three",
    "point", "five"), "$5" → ("dollar", "five"), "21st" → ("twenty", "one") (an ordinal
    has its cardinal's words), "well-known", "don't" and "U.S." → one word each, "and/or" →
    ("and", "slash", "or"), "example.com" → ("example", "dot", "com").
    """
    words: list[str] = []
    for piece in _PIECE.finditer(word):
        if piece["hour"] is not None:
            words += _cardinal(piece["hour"])
            minute = piece["minute"]
            words += _digits(minute) if minute.startswith("0") else _cardinal(minute)
        elif piece["number"] is not None:
            words += _cardinal(piece["number"].replace(",", ""))
            if piece["decimals"] is not None:
                words += ["point", *_digits(piece["decimals"])]
        elif piece["symbol"] is None:
            words.append(piece.group())
        elif piece["symbol"] != "-":
            words.append(_SYMBOL_WORDS[piece["symbol"]])
        elif piece.start() and word[piece.start() - 1].isdigit():
            words.append("dash")
        elif not piece.start() or not word[piece.start() - 1].isalnum():
            words.append("minus")
    return tuple(words)


# What espeak says for abbreviations that are not spelled out letter by letter.
_ABBREVIATIONS: Final = {
    **{"dr": "doctor", "mr": "mister", "mrs": "missus", "st": "street", "vs": "versus"},
    **{"etc": "etcetera", "jr": "junior", "sr": "senior", "eg": "forexample", "ie": "thatis"},
}
_VOWELS: Final = frozenset("aeiouy")
# Phonemes of a letter's name where it is not 2 ("ɛf", "biː"): "iː", "dʒiː", "eɪtʃ", "dʌbəljuː"
_SPELLED: Final = {"e": 1, "g": 3, "h": 4, "j": 4, "k": 3, "q": 3, "w": 7, "x": 3, "y": 3}
_DIGRAPHS: Final = re.compile(r"th|sh|ch|ph|ng|ck|wh|gh|(.)\1")


def _estimate(word: str) -> int:
    """A rough count of the phonemes (as espeak writes them) of one spoken word."""
    letters = "".join(c for c in word.lower() if c.isalpha())
    letters = _ABBREVIATIONS.get(letters, letters)
    if "." in word or (len(letters) <= 3 and word.isupper()) or not _VOWELS & set(letters):
        return sum(_SPELLED.get(c, 2) for c in letters)  # read letter by letter: U.S., FBI, www
    letters = _DIGRAPHS.sub("_", letters)
    if len(letters) > 2 and letters[-1] == "e" and letters[-2] not in "aeiouy_":
        letters = letters[:-1]  # a silent e
    return max(1, len(letters))


def _digits(digits: str) -> list[str]:
    return [_ONES[int(d)] for d in digits]


def _cardinal(digits: str) -> list[str]:
    if len(digits) > _LONGEST_CARDINAL or (len(digits) > 1 and digits.startswith("0")):
        return _digits(digits)
    return _number(int(digits))


def _number(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10], *([_ONES[n % 10]] if n % 10 else [])]
    if 1900 < n < 2000 and n % 100:  # espeak reads these as years
        return ["nineteen hundred", *_number(n % 100)]
    if n < 1000:
        return [f"{_ONES[n // 100]} hundred", *(_number(n % 100) if n % 100 else [])]
    scale, name = next((s, name) for s, name in _SCALES if n >= s)
    high, rest = divmod(n, scale)
    return [*_number(high), name, *(_number(rest) if rest else [])]
