"""agent/knowledge/bm25.py: the tokenizer, the stemmer and BM25 Okapi scores."""

from __future__ import annotations

import math

import pytest

from agent.knowledge import BM25Index, tokenize
from agent.knowledge.bm25 import stem


def test_tokenize_lowercases_drops_stopwords_and_splits_on_punctuation() -> None:
    assert tokenize("The Dusty-3's battery, E7 and the_dock: über!") == [
        "dusty", "3", "battery", "e7", "dock", "über",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("batteries", "battery"),
        ("battery", "battery"),
        ("charging", "charg"),
        ("charged", "charg"),
        ("charges", "charg"),
        ("charge", "charg"),
        ("refunds", "refund"),
        ("refunded", "refund"),
        ("shipping", "ship"),
        ("shipped", "ship"),
        ("ships", "ship"),
        ("glass", "glass"),
        ("status", "status"),
        ("days", "day"),
        ("e7", "e7"),
        ("45", "45"),
        ("bus", "bus"),
    ],
)
def test_stem_conflates_common_inflections(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_scores_follow_the_okapi_formula() -> None:
    docs = [["battery", "battery", "life"], ["battery"], ["filter", "life", "dock", "bag"]]
    index = BM25Index(docs, k1=1.5, b=0.75)
    avg = 8 / 3

    scores = index.scores(["battery"])

    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected0 = idf * 2 * 2.5 / (2 + 1.5 * (1 - 0.75 + 0.75 * 3 / avg))
    expected1 = idf * 1 * 2.5 / (1 + 1.5 * (1 - 0.75 + 0.75 * 1 / avg))
    assert scores == pytest.approx({0: expected0, 1: expected1})


def test_top_k_ranks_by_score_and_ignores_documents_without_query_terms() -> None:
    index = BM25Index.from_texts(
        [
            "Returns are accepted within 45 days.",
            "Refunds are issued within 5 business days of the return arriving.",
            "The battery lasts 140 minutes.",
            "Refund, refund, refund.",
        ]
    )

    ranked = index.top_k("When is my refund issued?", k=10)

    assert [i for i, _ in ranked] == [1, 3]
    assert ranked[0][1] > ranked[1][1] > 0
    assert [i for i, _ in index.top_k("refund", k=1)] == [3]  # three times, in a short text
    assert index.top_k("unrelated words", k=3) == []
    assert index.top_k("refund", k=0) == []


def test_rare_terms_weigh_more_than_common_ones() -> None:
    index = BM25Index.from_texts(["robot vacuum e7", "robot window", "robot app", "robot dock"])

    assert index.top_k("robot e7", k=1)[0][0] == 0
    assert index.scores(["e7"])[0] > index.scores(["robot"])[0]


def test_ties_go_to_the_lower_index_and_an_empty_index_finds_nothing() -> None:
    index = BM25Index.from_texts(["same text", "same text"])

    assert [i for i, _ in index.top_k("text", 2)] == [0, 1]
    assert BM25Index([]).top_k("anything", 3) == []
    assert len(index) == 2
