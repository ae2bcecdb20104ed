"""BM25 Okapi keyword ranking (pure) with a small English tokenizer.

Scores are ``sum over query terms of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len/avglen))``
with the non-negative idf of Lucene, ``log(1 + (N - df + 0.5) / (df + 0.5))``. A term repeated in
the query counts once per repetition.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+")

_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don doesn didn isn wasn aren
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def stem(word: str) -> str:
    """A crude English stemmer: plurals, ``-ing``, ``-ed`` and a final ``e``.

    Enough to match ``batteries``/``battery``, ``charging``/``charged``/``charge`` and
    ``refunds``/``refunded``/``refund``; not a linguist's stemmer.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (Unicode letters and digits) without stopwords, stemmed."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25Index:
    """An immutable BM25 index over tokenized documents; safe to share between threads."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self._lengths = [len(doc) for doc in documents]
        self._avg_length = (sum(self._lengths) / len(documents)) if documents else 0.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for index, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                postings.setdefault(term, []).append((index, count))
        n = len(documents)
        self._postings = postings
        self._idf = {
            term: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for term, p in postings.items()
        }

    @classmethod
    def from_texts(cls, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> BM25Index:
        return cls([tokenize(text) for text in texts], k1=k1, b=b)

    def __len__(self) -> int:
        return len(self._lengths)

    def scores(self, query_terms: Sequence[str]) -> dict[int, float]:
        """Score of every document matching at least one term (others score 0)."""
        scores: dict[int, float] = {}
        avg = self._avg_length or 1.0
        for term in query_terms:
            idf = self._idf.get(term)
            if idf is None:
                continue
            for index, tf in self._postings[term]:
                norm = self.k1 * (1 - self.b + self.b * self._lengths[index] / avg)
                scores[index] = scores.get(index, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        return scores

    def top_k(self, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` best ``(document index, score)`` for ``query``, best first.

        Only documents sharing a term with the query appear; ties go to the lower index.
        """
        scores = self.scores(tokenize(query))
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return ranked[: max(0, k)]
