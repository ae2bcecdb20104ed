"""Stable partial transcripts (pure): LocalAgreement-2.

Each new hypothesis of the utterance so far is compared with the previous one; the words they
agree on from the start become stable and are never taken back. Partials are shown as a stable
prefix plus an unstable tail, so captions do not flicker.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w']+")


def _norm(word: str) -> str:
    return _PUNCT.sub("", word.lower())


class LocalAgreement:
    def __init__(self) -> None:
        self._stable: list[str] = []
        self._previous: list[str] = []

    @property
    def stable(self) -> str:
        return " ".join(self._stable)

    def update(self, hypothesis: str) -> tuple[str, str]:
        """Take the latest hypothesis; return (stable prefix, unstable tail)."""
        words = hypothesis.split()
        agreed = 0
        for old, new in zip(self._previous, words, strict=False):
            if _norm(old) != _norm(new):
                break
            agreed += 1
        if agreed > len(self._stable) and _matches(self._stable, words):
            self._stable = words[:agreed]
        self._previous = words
        tail = words[len(self._stable) :] if _matches(self._stable, words) else []
        return self.stable, " ".join(tail)

    def reset(self) -> None:
        self._stable = []
        self._previous = []


def _matches(prefix: list[str], words: list[str]) -> bool:
    return len(words) >= len(prefix) and all(
        _norm(a) == _norm(b) for a, b in zip(prefix, words, strict=False)
    )
