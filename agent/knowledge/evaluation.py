"""Scoring retrieval against a labelled question set (``evals/knowledge/*.yaml``).

A question is answered at rank r when the r-th passage comes from one of its ``sources``.
``recall@k`` is the share of questions answered within the first k passages, MRR the mean of
1/r (0 when no passage of the first ``depth`` answers it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from agent.knowledge.errors import KnowledgeError


class _Sourced(Protocol):
    @property
    def source(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    id: str
    question: str
    sources: tuple[str, ...]
    answer_contains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelledSet:
    knowledge_base: str
    questions: tuple[LabelledQuestion, ...]


@dataclass(frozen=True, slots=True)
class RetrievalScores:
    questions: int
    recall: dict[int, float]
    mrr: float
    #: Rank (from 1) of the first relevant passage per question id; None when not in ``depth``.
    ranks: dict[str, int | None]

    def describe(self) -> str:
        recalls = "  ".join(f"recall@{k} {value:.3f}" for k, value in sorted(self.recall.items()))
        return f"{recalls}  MRR {self.mrr:.3f}  (n={self.questions})"


def load_labelled_set(path: Path) -> LabelledSet:
    """Read a labelled set; :class:`KnowledgeError` if it is malformed."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        questions = tuple(
            LabelledQuestion(
                id=str(item["id"]),
                question=str(item["question"]),
                sources=tuple(str(s) for s in item["sources"]),
                answer_contains=tuple(str(s) for s in item.get("answer_contains", ())),
            )
            for item in raw["questions"]
        )
        return LabelledSet(str(raw["knowledge_base"]), questions)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise KnowledgeError(f"{path}: not a labelled question set ({exc!r})") from None


def score_retrieval(
    questions: Sequence[LabelledQuestion],
    search: Callable[[str, int], Sequence[_Sourced]],
    ks: Sequence[int] = (1, 3, 5),
    depth: int = 10,
) -> RetrievalScores:
    """Run ``search(question, depth)`` for each question and score the rankings."""
    ranks: dict[str, int | None] = {}
    for question in questions:
        found = search(question.question, depth)
        relevant = set(question.sources)
        ranks[question.id] = next(
            (rank for rank, passage in enumerate(found, 1) if passage.source in relevant), None
        )
    n = len(questions)
    recall = {k: sum(1 for r in ranks.values() if r is not None and r <= k) / n for k in ks}
    mrr = sum(1 / r for r in ranks.values() if r is not None) / n
    return RetrievalScores(n, recall, mrr, ranks)
