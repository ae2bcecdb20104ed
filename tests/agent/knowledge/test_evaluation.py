"""agent/knowledge/evaluation.py, and the labelled set's consistency with the demo documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.knowledge import KnowledgeError, load_document
from agent.knowledge.evaluation import LabelledQuestion, load_labelled_set, score_retrieval
from tests.agent.knowledge.conftest import ACME, LABELLED_SET


@dataclass(frozen=True)
class Hit:
    source: str


def test_scores_count_the_rank_of_the_first_relevant_passage() -> None:
    questions = [
        LabelledQuestion("a", "qa", ("x.md",), ()),
        LabelledQuestion("b", "qb", ("y.md", "z.md"), ()),
        LabelledQuestion("c", "qc", ("w.md",), ()),
        LabelledQuestion("d", "qd", ("v.md",), ()),
    ]
    rankings = {
        "qa": ["x.md", "y.md"],
        "qb": ["x.md", "x.md", "z.md"],
        "qc": ["x.md"] * 4 + ["w.md"],
        "qd": ["x.md"],
    }
    asked: list[tuple[str, int]] = []

    def search(query: str, k: int) -> list[Hit]:
        asked.append((query, k))
        return [Hit(s) for s in rankings[query]][:k]

    scores = score_retrieval(questions, search, ks=(1, 3, 5), depth=5)

    assert scores.ranks == {"a": 1, "b": 3, "c": 5, "d": None}
    assert scores.recall == {1: 0.25, 3: 0.5, 5: 0.75}
    assert scores.mrr == pytest.approx((1 + 1 / 3 + 1 / 5) / 4)
    assert asked == [("qa", 5), ("qb", 5), ("qc", 5), ("qd", 5)]
    assert scores.describe().startswith("recall@1 0.250  recall@3 0.500  recall@5 0.750")


def test_a_malformed_labelled_set_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("questions: [{id: a}]\n")

    with pytest.raises(KnowledgeError, match="not a labelled question set"):
        load_labelled_set(path)


def test_the_acme_labelled_set_matches_the_demo_documents() -> None:
    labelled = load_labelled_set(LABELLED_SET)

    assert labelled.knowledge_base == "acme"
    assert len(labelled.questions) >= 30
    assert len({q.id for q in labelled.questions}) == len(labelled.questions)
    texts = {}
    for question in labelled.questions:
        assert question.sources and question.answer_contains, question.id
        for source in question.sources:
            if source not in texts:
                text = load_document(ACME / source, source).text
                texts[source] = " ".join(text.split()).lower()
        answered_by = " ".join(texts[s] for s in question.sources)
        for fact in question.answer_contains:
            assert " ".join(fact.split()).lower() in answered_by, (question.id, fact)
    assert len(texts) >= 10  # the questions cover (nearly) every document
