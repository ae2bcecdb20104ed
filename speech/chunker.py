"""Speakable chunks from streamed LLM text (pure, sans-I/O).

``SpeechChunker.push()`` takes the reply's text deltas as they arrive and returns the chunks that
are ready for TTS; ``flush()`` at the end of the reply returns the rest. A chunk's text is what is
spoken and shown as captions: Markdown markers, link targets and emoji are removed and
whitespace is collapsed. Expression tags such as ``[smile]`` or ``<sad>`` are never spoken: they
become ``ExpressionCue``s that name the word of the chunk the expression starts at.

The work happens in two steps that each decide only what no later delta can change, so a reply
gives the same chunks however it is split into deltas:

1. *Cleaning* reads raw characters and holds back only what is still ambiguous: an unclosed
   ``[`` or ``<`` that may still become a tag, a ``]`` that may start a link target ``](url)``, a
   line start that may be a list or heading marker (``- ``, ``1. ``, ``## ``).
2. *Cutting* works on the cleaned text, where each run of whitespace is one separator: a line
   break if it held one, else a space. Every cut is at a separator, so no word is ever split,
   and a cut is decided by the text before that separator alone once a word follows it: a
   ``.`` at the end of the text may still be a decimal point, and a trailing space may still
   turn out to be part of a line break.

Cut rules, in order, for the text pending since the last cut:

* at a line break (list items, headings and paragraphs end there, punctuated or not);
* after sentence-final punctuation (``. ! ? …`` and runs such as ``?!`` or ``...``, optionally
  followed by closing quotes or brackets) -- unless the word is a known abbreviation (``Dr.``,
  ``etc.``), dotted (``e.g.``, ``U.S.``, ``a.m.``) or an initial (``J.``, but not ``I.``);
* after a clause boundary (``, ; : — –`` or a free-standing ``-``) once the pending text has
  ``first_min_words`` words for the reply's first chunk or ``min_words`` for later ones;
* when the pending text grows past ``max_chars``: at the last clause boundary within
  ``max_chars`` (even a short one), else at the last separator within it (either with a word
  before it), else -- a word longer than ``max_chars`` -- at the first separator after it.

A chunk without a letter or digit (``"..."``, ``"!"``) is never emitted: sentence cuts need a
word before them, and a wordless rest is dropped along with any tag that pointed into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "EXPRESSIONS",
    "Chunk",
    "ExpressionCue",
    "SpeechChunker",
    "classify_expression",
]

EXPRESSIONS: frozenset[str] = frozenset(
    {"smile", "sad", "surprised", "laugh", "wink", "thinking", "neutral"}
)
"""Expression names the avatar knows; tags naming anything else are stripped, not recorded."""


@dataclass(frozen=True, slots=True)
class ExpressionCue:
    """An expression that starts at word ``word_index`` (0-based) of its chunk."""

    word_index: int
    name: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """Text to speak and caption (clean, stripped, never empty) and the expressions in it."""

    text: str
    expressions: tuple[ExpressionCue, ...] = ()


# --- cleaning -----------------------------------------------------------------------------------

# A tag is one lowercase word in [] or <>; "/" makes it a closing tag (stripped, never recorded).
_TAG = re.compile(r"\[(?P<square>/?[a-z]{1,15})\]|<(?P<angle>/?[a-z]{1,15})>")
_TAG_PREFIX = re.compile(r"\[/?[a-z]{0,15}\Z|</?[a-z]{0,15}\Z")
# The target of a Markdown link: "](url)", with one level of parentheses inside the URL.
_LINK_TARGET = re.compile(r"\]\((?:[^\s()]|\([^\s()]*\))*\)")
_LINK_TARGET_PREFIX = re.compile(r"\](?:\((?:[^\s()]|\([^\s()]*\))*(?:\([^\s()]*)?)?\Z")
_MAX_LINK_TARGET = 2048
# Markers at the start of a line: headings, bullets, numbered items.
_LINE_MARKER = re.compile(r"(?:#{1,6}|[-*+]|\d{1,3}[.)])[ \t]")
_LINE_MARKER_PREFIX = re.compile(r"(?:#{1,6}|[-*+]|\d{1,3}[.)]?)\Z")
# Characters dropped wherever they are: emphasis and code markers, bullets, zero-width spaces.
_DROPPED = frozenset("*_`•\u200b\ufeff")
_WHITESPACE = re.compile(r"[ \n]+")


def _collapse(run: re.Match[str]) -> str:
    return "\n" if "\n" in run.group() else " "


def _is_pictograph(char: str) -> bool:
    """Emoji, pictographic symbols and the joiners and selectors that build emoji sequences."""
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF  # emoji, pictographs, regional indicators, skin tones
        or 0x2600 <= code <= 0x27BF  # miscellaneous symbols, dingbats
        or 0x2B00 <= code <= 0x2BFF  # arrows and stars such as ⬆ ⭐
        or 0x25A0 <= code <= 0x25FF  # geometric shapes such as ▶ ■ ●
        or 0x231A <= code <= 0x23FF  # ⌚ ⌛ ⏰ ⏩
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0000 <= code <= 0xE007F  # tag characters (subdivision flags)
        or code in (0x200D, 0x20E3)  # zero-width joiner, combining keycap
    )


# --- cutting ------------------------------------------------------------------------------------

_WORD = re.compile(r"\S+")
_SEPARATOR = re.compile(r"[ \n]")
_CLOSERS = "\"')]}’”»"
_OPENERS = "\"'([{‘“«¿¡"
_SENTENCE_END = frozenset("!?…")
_CLAUSE_END = frozenset(",;:—–")
_DASHES = frozenset("-–—")
# A token of only these is glued to the word before it: "great !" reads "great!".
_DETACHED = frozenset(",.;:!?…)]}”%")
_ABBREVIATIONS = frozenset(
    {
        "e.g.", "i.e.", "dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "etc.", "a.m.", "p.m.",
        "u.s.", "prof.", "jr.", "sr.", "mt.",
    }
)  # fmt: skip
_DOTTED = re.compile(r"(?:[A-Za-z]\.){2,}")
_INITIAL = re.compile(r"[A-Z]\.")


def _has_word(token: str) -> bool:
    return any(char.isalnum() for char in token)


def _is_abbreviation(core: str) -> bool:
    word = core.lstrip(_OPENERS)
    return (
        word.lower() in _ABBREVIATIONS
        or _DOTTED.fullmatch(word) is not None
        or (_INITIAL.fullmatch(word) is not None and word != "I.")
    )


def _ends_sentence(token: str) -> bool:
    core = token.rstrip(_CLOSERS)
    if core[-1:] in _SENTENCE_END:
        return True
    if core[-1:] != ".":
        return False
    return core.endswith("..") or not _is_abbreviation(core)


def _ends_clause(token: str) -> bool:
    core = token.rstrip(_CLOSERS)
    return core[-1:] in _CLAUSE_END or (core != "" and set(core) <= _DASHES)


def _make_chunk(segment: str, cues: Iterable[tuple[int, str]]) -> Chunk | None:
    """The chunk for ``segment``; ``cues`` are (character offset, name). None if it has no word."""
    words: list[str] = []
    starts: list[int] = []
    for match in _WORD.finditer(segment):
        token = match.group()
        if words and set(token) <= _DETACHED:
            words[-1] += token
        else:
            words.append(token)
            starts.append(match.start())
    if not any(_has_word(word) for word in words):
        return None
    last = len(words) - 1
    expressions = tuple(
        ExpressionCue(min(sum(1 for start in starts if start < offset), last), name)
        for offset, name in cues
    )
    return Chunk(" ".join(words), expressions)


def _first(*cuts: int | None) -> int | None:
    return next((cut for cut in cuts if cut is not None), None)


class SpeechChunker:
    """Cuts one streamed reply after another into speakable chunks; see the module docstring.

    Call ``push()`` with each text delta and ``flush()`` once the reply is complete; ``flush()``
    also resets the chunker for the next reply. Not thread-safe: one reply stream per instance.
    """

    def __init__(
        self,
        first_min_words: int = 2,
        min_words: int = 5,
        max_chars: int = 220,
        *,
        expressions: frozenset[str] = EXPRESSIONS,
    ) -> None:
        """Raises ValueError unless the word counts and ``max_chars`` are at least 1."""
        if min(first_min_words, min_words, max_chars) < 1:
            raise ValueError("first_min_words, min_words and max_chars must be at least 1")
        self._first_min_words = first_min_words
        self._min_words = min_words
        self._max_chars = max_chars
        self._expressions = expressions
        self._reset()

    def _reset(self) -> None:
        self._raw = ""  # raw text not cleaned yet: its start is still ambiguous
        self._line_start = True
        self._pending = ""  # cleaned text since the last cut: single separators, none leading
        self._cues: list[tuple[int, str]] = []  # (offset in _pending, expression name)
        self._emitted = False

    def push(self, delta: str) -> list[Chunk]:
        """Add a text delta; return the chunks it completes (often none)."""
        self._raw += delta
        self._clean(final=False)
        return self._cut_all()

    def flush(self) -> list[Chunk]:
        """End the reply: return the remaining chunks and reset for the next reply."""
        self._clean(final=True)
        chunks = self._cut_all()
        rest = self._take(len(self._pending))
        if rest is not None:
            chunks.append(rest)
        self._reset()
        return chunks

    # --- cleaning -------------------------------------------------------------------------------

    def _clean(self, final: bool) -> None:
        """Clean ``_raw`` into ``_pending`` up to the first ambiguous character (none if final)."""
        raw = self._raw
        text: list[str] = []
        i = 0
        while i < len(raw):
            char = raw[i]
            if self._line_start and not char.isspace():
                marker = _LINE_MARKER.match(raw, i)
                if marker is not None:
                    i = marker.end()
                    self._line_start = False
                    continue
                if not final and _LINE_MARKER_PREFIX.match(raw, i):
                    break
                self._line_start = False
            if char.isspace():
                text.append("\n" if char == "\n" else " ")
                self._line_start = self._line_start or char == "\n"
                i += 1
            elif char in "[<":
                tag = _TAG.match(raw, i)
                if tag is None:
                    if not final and _TAG_PREFIX.match(raw, i):
                        break
                    if char == "<":
                        text.append(char)
                    i += 1  # "[" is markup: a link's text or a bracketed aside
                elif char == "[" and tag.end() == len(raw) and not final:
                    break  # "[word]" may still be followed by "(url)"
                elif char == "[" and raw.startswith("(", tag.end()):
                    i += 1  # "[word](url)": a link whose text is one word
                else:
                    self._append("".join(text))
                    text.clear()
                    self._tag(tag.group("square") or tag.group("angle"))
                    i = tag.end()
            elif char == "]":
                target = _LINK_TARGET.match(raw, i)
                if target is not None and target.end() - i <= _MAX_LINK_TARGET:
                    i = target.end()
                elif (
                    not final
                    and len(raw) - i <= _MAX_LINK_TARGET
                    and _LINK_TARGET_PREFIX.match(raw, i)
                ):
                    break
                else:
                    i += 1
            else:
                if char not in _DROPPED and not _is_pictograph(char):
                    text.append(char)
                i += 1
        self._raw = raw[i:]
        self._append("".join(text))

    def _append(self, text: str) -> None:
        """Add cleaned text, each run of whitespace one separator: a line break or a space."""
        text = _WHITESPACE.sub(_collapse, text)
        if text[:1] in (" ", "\n") and self._pending[-1:] in ("", " ", "\n"):
            if text[0] == "\n" and self._pending:
                self._pending = self._pending[:-1] + "\n"
            text = text[1:]
        self._pending += text

    def _tag(self, body: str) -> None:
        """A tag separates words like a space; an expression tag is recorded where it stands."""
        self._append(" ")
        if body in self._expressions:
            self._cues.append((len(self._pending), body))

    # --- cutting --------------------------------------------------------------------------------

    def _cut_all(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        while (cut := self._find_cut()) is not None:
            chunk = self._take(cut)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def _find_cut(self) -> int | None:
        """The index of the separator to cut at, or None to wait for more text."""
        text = self._pending
        needed = self._min_words if self._emitted else self._first_min_words
        # A separator at the very end is not settled: a line break may still join it.
        settled = len(text) - 1 if text[-1:] in (" ", "\n") else len(text)
        words = start = 0
        last_clause: int | None = None
        last_space: int | None = None
        for separator in _SEPARATOR.finditer(text, 0, settled):
            space = separator.start()
            if space > self._max_chars:
                return _first(last_clause, last_space, space)
            token = text[start:space]
            words += _has_word(token)
            if words and (text[space] == "\n" or _ends_sentence(token)):
                return space
            clause = _ends_clause(token)
            if clause and words >= needed:
                return space
            if words:
                last_space = space
                if clause:
                    last_clause = space
            start = space + 1
        if settled <= self._max_chars:
            return None
        return _first(last_clause, last_space)

    def _take(self, cut: int) -> Chunk | None:
        """Remove the text before the separator at ``cut`` (or all of it); make it a chunk."""
        segment = self._pending[:cut]
        self._pending = self._pending[cut + 1 :]
        cues = [(offset, name) for offset, name in self._cues if offset <= cut]
        self._cues = [(offset - cut - 1, name) for offset, name in self._cues if offset > cut]
        chunk = _make_chunk(segment, cues)
        self._emitted = self._emitted or chunk is not None
        return chunk


# --- fallback expressions -----------------------------------------------------------------------

_SAD = re.compile(
    r"\b(?:sorry|apologi[sz]e|apologies|unfortunately|i'm afraid|sadly|condolences)\b"
)
_SURPRISED = re.compile(r"\b(?:wow|whoa|woah|no way|oh my)\b|\breally\?")
_SMILE = re.compile(
    r"\b(?:hi|hello|hey|welcome|good (?:morning|afternoon|evening)|thanks|thank you"
    r"|glad|happy|delighted|congratulations|congrats|yay|hooray)\b"
    r"|\b(?:great|awesome|wonderful|fantastic|excellent|perfect)!"
)


def classify_expression(text: str) -> str | None:
    """Guess an expression for ``text`` from a few keywords; None when nothing is clear.

    A fallback for models that write no expression tags, not a sentiment model: apologies and
    bad news give "sad", astonishment ("wow", "really?") gives "surprised", greetings, thanks
    and joy give "smile", checked in that order.
    """
    lowered = text.lower().replace("’", "'")
    for pattern, name in ((_SAD, "sad"), (_SURPRISED, "surprised"), (_SMILE, "smile")):
        if pattern.search(lowered):
            return name
    return None
