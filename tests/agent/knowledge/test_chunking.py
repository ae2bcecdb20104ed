"""agent/knowledge/chunking.py: sizes, boundaries, titles, offsets — and properties over
generated documents (every word is kept, no chunk is too long, chunks of a section overlap)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.knowledge import Chunk, ChunkingParams, Document, chunk_document, indexed_text

WORD = re.compile(r"\S+")


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


def sentences(n_words: int, per_sentence: int = 10, start: int = 0) -> str:
    out = []
    for i in range(start, start + n_words):
        end = (i - start + 1) % per_sentence == 0
        out.append(f"w{i}." if end else f"w{i}")
    return " ".join(out)


def doc(text: str, title: str = "Doc") -> Document:
    return Document("kb/doc.md", title, text)


def count(chunk: Chunk) -> int:
    return len(WORD.findall(chunk.text))


def test_a_short_document_is_one_chunk_titled_by_the_document() -> None:
    chunks = chunk_document(doc("Just a few words here."))

    assert chunks == [
        Chunk("kb/doc.md#0", "kb/doc.md", 0, 0, "Doc", "Just a few words here.", 0, 22)
    ]


def test_empty_text_has_no_chunks() -> None:
    assert chunk_document(doc("  \n\n ")) == []


def test_sections_get_their_heading_trail_as_title() -> None:
    text = (
        "Intro.\n\n# Returns\n\nReturn within 45 days.\n\n## Refund timing\n\nFive days.\n\n"
        "# Warranty\n\n### Battery\n\nOne year."
    )

    chunks = chunk_document(doc(text))

    assert [(c.title, c.text) for c in chunks] == [
        ("Doc", "Intro."),
        ("Returns", "# Returns\n\nReturn within 45 days."),
        ("Returns > Refund timing", "## Refund timing\n\nFive days."),
        ("Warranty > Battery", "# Warranty\n\n### Battery\n\nOne year."),
    ]
    assert [c.section for c in chunks] == [0, 1, 2, 3]
    assert [c.id for c in chunks] == [f"kb/doc.md#{i}" for i in range(4)]


def test_sections_without_a_level_one_heading_start_their_title_with_the_document() -> None:
    chunks = chunk_document(doc("## Express\n\nNext day.", title="Shipping"))

    assert chunks[0].title == "Shipping > Express"


def test_a_heading_inside_a_code_fence_does_not_open_a_section() -> None:
    chunks = chunk_document(doc("# Setup\n\n```\n# not a heading\n```\n\nDone."))

    assert len(chunks) == 1
    assert chunks[0].title == "Setup"


def test_a_long_section_is_cut_near_the_target_with_overlap() -> None:
    text = sentences(400)
    params = ChunkingParams(target_words=120, max_words=180, overlap_words=30)

    chunks = chunk_document(doc(text), params)

    sizes = [count(c) for c in chunks]
    assert all(60 <= size <= 180 for size in sizes), sizes
    assert all(abs(size - 120) <= 10 for size in sizes[:-1]), sizes
    for before, after in itertools.pairwise(chunks):
        shared = set(WORD.findall(before.text)) & set(WORD.findall(after.text))
        assert 15 <= len(shared) <= 45
        assert after.start < before.end


def test_cuts_prefer_paragraph_ends_then_sentence_ends() -> None:
    # Paragraphs of 100 words (sentences of 10): cut after a paragraph, not mid-paragraph.
    text = "\n\n".join(sentences(100, start=i * 100) for i in range(4))

    chunks = chunk_document(doc(text))

    for chunk in chunks[:-1]:
        assert chunk.text.endswith("."), chunk.text[-20:]
    assert chunks[0].text.endswith("w99.")


def test_a_paragraph_without_punctuation_is_cut_at_the_target() -> None:
    chunks = chunk_document(doc(words(500)), ChunkingParams(100, 150, 20))

    assert [count(c) for c in chunks[:-1]] == [100] * (len(chunks) - 1)


def test_without_overlap_chunks_tile_the_section() -> None:
    chunks = chunk_document(doc(words(300)), ChunkingParams(100, 120, 0))

    assert [count(c) for c in chunks] == [100, 100, 100]
    assert all(a.end < b.start for a, b in itertools.pairwise(chunks))


def test_chunking_is_deterministic() -> None:
    text = "# A\n\n" + sentences(500) + "\n\n## B\n\n" + words(90)

    assert chunk_document(doc(text)) == chunk_document(doc(text))


def test_indexed_text_puts_the_title_first() -> None:
    chunk = chunk_document(doc("## Pads\n\nWash at 40 °C.", title="Glide"))[0]

    assert indexed_text(chunk) == "Glide > Pads\n\n## Pads\n\nWash at 40 °C."


@pytest.mark.parametrize(("target", "maximum", "overlap"), [(0, 10, 0), (20, 10, 0), (10, 20, 10)])
def test_invalid_parameters_are_refused(target: int, maximum: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunking needs"):
        ChunkingParams(target, maximum, overlap)


def test_the_fingerprint_changes_with_the_parameters() -> None:
    assert ChunkingParams().fingerprint != ChunkingParams(overlap_words=20).fingerprint


# ── properties ──────────────────────────────────────────────────────────────

_word = st.sampled_from(["alpha", "beta", "gamma.", "delta,", "eps!", "zeta?", "eta", "45", "ü"])
_paragraph = st.lists(
    st.lists(_word, min_size=1, max_size=40).map(" ".join), min_size=1, max_size=4
).map("\n".join)
_heading = st.tuples(st.integers(1, 4), st.lists(_word, min_size=1, max_size=4)).map(
    lambda h: "#" * h[0] + " " + " ".join(h[1])
)
_block = st.one_of(_paragraph, _paragraph, _paragraph, _heading)
_documents = st.lists(_block, min_size=1, max_size=25).map("\n\n".join)
_params = (
    st.tuples(st.integers(1, 60), st.integers(0, 40), st.integers(0, 59))
    .filter(lambda p: p[2] < p[0])
    .map(lambda p: ChunkingParams(p[0], p[0] + p[1], p[2]))
)


@settings(max_examples=300, deadline=None)
@given(text=_documents, params=_params)
def test_chunks_cover_every_word_respect_the_maximum_and_overlap_within_sections(
    text: str, params: ChunkingParams
) -> None:
    document = doc(text)

    chunks = chunk_document(document, params)

    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert 1 <= count(chunk) <= params.max_words
    covered = [(c.start, c.end) for c in chunks]
    for match in WORD.finditer(document.text):
        assert any(s <= match.start() and match.end() <= e for s, e in covered), match.group()
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.start
        if before.section == after.section:
            if params.overlap_words:
                assert after.start < before.end
        else:
            assert after.start >= before.end
    assert chunk_document(document, params) == chunks
