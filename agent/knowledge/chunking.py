"""Split a :class:`Document` into overlapping chunks (pure: no I/O, deterministic).

The text is read as Markdown-like blocks: ``#`` heading lines open sections, blank lines end
paragraphs. Each section (a heading and the paragraphs under it, up to the next heading) is cut
into chunks of about ``target_words`` words, never more than ``max_words``; consecutive chunks of
one section share about ``overlap_words`` words. Cuts prefer, in this order, the end of a
paragraph, the end of a line (list items), the end of a sentence, and then the word closest to
the target. A heading with nothing under it before the next heading joins the next section.

Words are runs of non-space characters, so a chunk's text is exactly
``document.text[chunk.start:chunk.end]`` and every word of the document lies in some chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.knowledge.documents import Document

#: Bumped when the algorithm changes, so indexes built with the old one are rebuilt.
CHUNKER_VERSION = 1

_WORD = re.compile(r"\S+")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_SENTENCE_END = re.compile(r"[.!?:;][\"')\]]*$")
_FENCE = ("```", "~~~")

# Strength of the boundary before a word: where a cut is best placed.
_NONE, _SENTENCE, _LINE, _PARAGRAPH = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class ChunkingParams:
    """Chunk sizes in words. ``overlap_words`` must be below ``target_words``."""

    target_words: int = 120
    max_words: int = 180
    overlap_words: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.target_words <= self.max_words:
            raise ValueError("chunking needs 1 <= target_words <= max_words")
        if not 0 <= self.overlap_words < self.target_words:
            raise ValueError("chunking needs 0 <= overlap_words < target_words")

    @property
    def min_words(self) -> int:
        """The shortest chunk cut from a longer section (only a section's last may be shorter)."""
        return min(self.max_words, max(self.overlap_words + 1, self.target_words // 2))

    @property
    def fingerprint(self) -> str:
        """Identifies the parameters and the algorithm; an index stores it to notice changes."""
        return (
            f"chunker-v{CHUNKER_VERSION}:target={self.target_words}:max={self.max_words}"
            f":overlap={self.overlap_words}"
        )


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document: ``text`` is ``document.text[start:end]``.

    ``title`` is the heading trail (``"Returns > Refund timing"``), starting with the document's
    title when no level-1 heading is above the section; for text before any heading it is the
    document's title. ``section`` numbers the sections of the document; chunks of one
    section overlap. ``id`` is ``f"{source}#{ordinal}"``.
    """

    id: str
    source: str
    ordinal: int
    section: int
    title: str
    text: str
    start: int
    end: int


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and matched for ``chunk``: its title, then its text."""
    return f"{chunk.title}\n\n{chunk.text}"


@dataclass(slots=True)
class _Section:
    trail: tuple[str, ...]
    top_level: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    strengths: list[int] = field(default_factory=list)
    heading_words: int = 0


def _sections(text: str) -> list[_Section]:
    """The text's sections with the spans of their words and the boundary strength of each."""
    sections = [_Section(())]
    stack: list[tuple[int, str]] = []
    in_fence = False
    paragraph_open = False
    sentence_ended = False
    offset = 0
    for line in text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        content = line.rstrip("\r\n")
        heading = None if in_fence else _HEADING.match(content)
        if content.lstrip().startswith(_FENCE):
            in_fence = not in_fence
        words = [(line_start + m.start(), line_start + m.end()) for m in _WORD.finditer(content)]
        if not words:
            paragraph_open = False
            continue
        if heading:
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, " ".join(heading.group(2).split())))
            sections.append(_Section(tuple(title for _, title in stack), stack[0][0]))
            sections[-1].heading_words = len(words)
            paragraph_open = False
        section = sections[-1]
        for i, (start, end) in enumerate(words):
            if i == 0:
                strength = _LINE if paragraph_open else _PARAGRAPH
            else:
                strength = _SENTENCE if sentence_ended else _NONE
            section.spans.append((start, end))
            section.strengths.append(strength)
            sentence_ended = _SENTENCE_END.search(text, start, end) is not None
        paragraph_open = heading is None
        sentence_ended = sentence_ended or heading is not None
    # A heading with nothing under it joins the next section; empty sections disappear.
    merged: list[_Section] = []
    pending: _Section | None = None
    for section in sections:
        if pending is not None:
            section.spans[:0] = pending.spans
            section.strengths[:0] = pending.strengths
            section.heading_words += pending.heading_words
            pending = None
        if len(section.spans) == section.heading_words and section is not sections[-1]:
            pending = section if section.spans else None
        elif section.spans:
            merged.append(section)
    return merged


def _cuts(strengths: list[int], params: ChunkingParams) -> list[tuple[int, int]]:
    """Word ranges ``[start, end)`` of one section's chunks."""
    n = len(strengths)
    ranges: list[tuple[int, int]] = []
    start = 0
    while n - start > params.max_words:
        ideal = start + params.target_words
        end = max(
            range(start + params.min_words, start + params.max_words + 1),
            key=lambda e: (strengths[e], -abs(e - ideal), -e),
        )
        ranges.append((start, end))
        if params.overlap_words == 0:
            start = end
            continue
        # The next chunk starts about overlap_words back, at a sentence start if one is near.
        ideal_start = end - params.overlap_words
        low = max(start + 1, ideal_start - params.overlap_words // 2)
        high = max(low, min(end - 1, ideal_start + params.overlap_words // 2))
        start = max(
            range(low, high + 1),
            key=lambda s: (min(strengths[s], _SENTENCE), -abs(s - ideal_start), -s),
        )
    ranges.append((start, n))
    return ranges


def chunk_document(document: Document, params: ChunkingParams | None = None) -> list[Chunk]:
    """Cut ``document`` into chunks (in document order, ordinals from 0)."""
    params = params or ChunkingParams()
    chunks: list[Chunk] = []
    for section_number, section in enumerate(_sections(document.text)):
        title = " > ".join(section.trail) or document.title
        if section.top_level > 1:  # no "# " heading above: the document's title is the root
            title = f"{document.title} > {title}"
        for first, last in _cuts(section.strengths, params):
            start, end = section.spans[first][0], section.spans[last - 1][1]
            ordinal = len(chunks)
            chunks.append(
                Chunk(
                    id=f"{document.source}#{ordinal}",
                    source=document.source,
                    ordinal=ordinal,
                    section=section_number,
                    title=title,
                    text=document.text[start:end],
                    start=start,
                    end=end,
                )
            )
    return chunks
