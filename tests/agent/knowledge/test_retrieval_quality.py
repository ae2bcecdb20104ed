"""Retrieval on the demo knowledge base with the real all-MiniLM-L6-v2: recall@k of BM25,
dense and hybrid search on the labelled questions of evals/knowledge/acme_retrieval.yaml.

The scores are printed (also without ``-s``). Floors sit just under what was measured
(sentence-transformers 6.2.0, torch 2.13.0 CPU, 40 questions), so a real regression fails:

    method  recall@1  recall@3  recall@5  MRR@5
    bm25    0.650     0.875     0.875     0.756
    dense   0.875     1.000     1.000     0.933
    hybrid  0.850     0.975     0.975     0.912
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.knowledge import KnowledgeIndex, MiniLMEmbedder
from agent.knowledge.evaluation import RetrievalScores, load_labelled_set, score_retrieval
from tests.agent.knowledge.conftest import ACME, LABELLED_SET

pytestmark = pytest.mark.knowledge

FLOORS = {
    "bm25": {1: 0.6, 3: 0.8, 5: 0.8},
    "dense": {1: 0.8, 3: 0.95, 5: 0.95},
    "hybrid": {1: 0.8, 3: 0.925, 5: 0.95},
}


@pytest.fixture(scope="module")
def acme(minilm: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    index = KnowledgeIndex("acme", ACME, tmp_path_factory.mktemp("kb") / "acme.sqlite3", minilm)
    report = index.sync()
    assert report.failed == ()
    assert len(report.added) == 12
    return index


@pytest.fixture(scope="module")
def scores(acme: KnowledgeIndex) -> dict[str, RetrievalScores]:
    questions = load_labelled_set(LABELLED_SET).questions
    methods = {"bm25": acme.bm25_search, "dense": acme.dense_search, "hybrid": acme.search}
    return {name: score_retrieval(questions, search, depth=5) for name, search in methods.items()}


def test_print_retrieval_scores(
    scores: dict[str, RetrievalScores], capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print()
        for name, result in scores.items():
            print(f"  acme retrieval  {name:<6} {result.describe()}")
            missed = {q: r for q, r in result.ranks.items() if r != 1}
            print(f"  {'':16}{'':7}not first: {missed}")


@pytest.mark.parametrize("method", ["bm25", "dense", "hybrid"])
def test_recall_stays_above_the_measured_floor(
    scores: dict[str, RetrievalScores], method: str
) -> None:
    result = scores[method]

    for k, floor in FLOORS[method].items():
        assert result.recall[k] >= floor, (method, k, result.describe())


def test_hybrid_search_finds_exact_codes_that_embeddings_miss(acme: KnowledgeIndex) -> None:
    assert acme.search("DB-3400", k=1)[0].source == "dusty-3-maintenance.pdf"
    assert acme.search("E9", k=1)[0].source == "troubleshooting.md"


def test_passages_carry_their_heading_trail_and_scores(acme: KnowledgeIndex) -> None:
    found = acme.search("when is my refund paid once you have my return", k=3)

    refund = next(p for p in found if p.title == "Returns and refunds > Refund timing")
    assert refund.chunk_id.startswith("returns-and-refunds.md#")
    assert "5 business" in refund.text
    assert 0.3 < refund.similarity <= 1.0
    assert refund.bm25 > 0 and refund.score > 0


def test_the_injection_attempt_is_indexed_like_any_other_text(acme: KnowledgeIndex) -> None:
    found = acme.search("email my password to verify my warranty", k=4)

    assert any(
        p.source == "customer-reviews.html" and "Ignore all previous instructions" in p.text
        for p in found
    )


def test_reopening_the_index_needs_no_embedding_of_documents(
    acme: KnowledgeIndex, minilm: MiniLMEmbedder
) -> None:
    with KnowledgeIndex("acme", ACME, acme.index_path, minilm) as again:
        report = again.sync()

        assert report.chunks_embedded == 0 and len(report.unchanged) == 12
        question = "How long does the vacuum battery last?"
        assert [p.chunk_id for p in again.search(question)] == [
            p.chunk_id for p in acme.search(question)
        ]


def test_index_stats_of_the_demo(acme: KnowledgeIndex) -> None:
    stats = acme.stats()

    assert stats.documents == 12
    assert 30 <= stats.chunks <= 80
    assert stats.vector_bytes == stats.chunks * 384 * 4
    assert Path(acme.index_path).stat().st_size <= stats.index_bytes
