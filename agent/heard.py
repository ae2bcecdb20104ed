"""What the user heard of a reply (pure): the words played before playback stopped."""

from __future__ import annotations

from agent.events import AudioSegment


def heard_prefix(text: str, played_chars: int) -> str:
    """The part of ``text`` the user heard when playback stopped after ``played_chars``.

    A word cut in the middle was not heard: the result ends at the last whole word. It is always
    a prefix of ``text`` and never longer than ``played_chars``.
    """
    if played_chars >= len(text):
        return text
    if played_chars <= 0:
        return ""
    cut = text[:played_chars]
    if not text[played_chars].isspace() and not cut[-1].isspace():
        cut = cut[: max(cut.rfind(" "), 0)]  # drop the half-played word
    return cut.rstrip()


class SpokenWords:
    """When each word of recent spoken replies ends, and the underruns last reported for them
    (pure). Playback reports (``playback.stopped`` with ``played_ms``, ``playback.position``)
    are checked against it; only the last ``keep`` replies can still be reported on."""

    def __init__(self, keep: int = 4) -> None:
        self._keep = keep
        self._words: dict[str, list[tuple[float, str]]] = {}
        """Per reply: (end ms in its audio stream, word) of every word spoken, in order."""
        self._underruns: dict[str, int] = {}
        """Per reply: the cumulative underrun count last reported (the baseline of the next)."""

    def remember(self, segment: AudioSegment) -> None:
        """A segment of ``segment.response_id`` was sent: note when each of its words ends."""
        offset_ms = segment.pts / segment.sample_rate * 1000
        words = self._words.setdefault(segment.response_id, [])
        words += [(offset_ms + w.start_ms + w.duration_ms, w.text) for w in segment.words]
        while len(self._words) > self._keep:
            del self._words[next(iter(self._words))]

    def heard(self, response_id: str, played_ms: int) -> str:
        """The words of ``response_id`` that had ended when playback stopped at ``played_ms``."""
        words = self._words.get(response_id, [])
        return " ".join(word for end_ms, word in words if end_ms <= played_ms)

    def new_underruns(self, response_id: str, underruns: int) -> int:
        """What a cumulative report of ``underruns`` adds to the last one for the same reply.
        0 for a reply not spoken recently, so made-up ids cannot inflate the count."""
        if response_id not in self._words:
            return 0
        added = max(0, underruns - self._underruns.get(response_id, 0))
        if added:
            self._underruns[response_id] = underruns
        for stale in [r for r in self._underruns if r not in self._words]:
            del self._underruns[stale]
        return added
