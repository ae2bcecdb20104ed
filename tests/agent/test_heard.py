"""heard_prefix and SpokenWords: history keeps only whole words the user heard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.events import AudioSegment
from agent.heard import SpokenWords, heard_prefix
from speech.timeline import WordTiming

TEXT = "We open at nine on Sundays."


@pytest.mark.parametrize(
    ("played", "heard"),
    [
        (0, ""),
        (-5, ""),
        (1, ""),  # half of "We"
        (2, "We"),  # the whole word, though not the space after it
        (3, "We"),
        (5, "We"),  # "op" of "open" was not a word heard
        (7, "We open"),
        (8, "We open"),
        (len(TEXT), TEXT),
        (999, TEXT),
    ],
)
def test_history_keeps_whole_words_up_to_the_playback_position(played: int, heard: str) -> None:
    assert heard_prefix(TEXT, played) == heard


@given(st.text(alphabet=st.sampled_from("ab .,\n"), max_size=40), st.integers(-3, 50))
def test_the_heard_text_is_a_prefix_never_longer_than_what_was_played(
    text: str, played: int
) -> None:
    heard = heard_prefix(text, played)
    assert text.startswith(heard)
    assert len(heard) <= max(0, played)
    if played >= len(text):
        assert heard == text


def _segment(response_id: str, pts: int, *words: tuple[str, int, int]) -> AudioSegment:
    """A segment at ``pts`` (1 kHz, so samples are ms) with (word, start ms, duration ms)."""
    timings = tuple(WordTiming(text, start, duration) for text, start, duration in words)
    return AudioSegment(response_id, 0, 1, pts, 1000, 0, "", timings, (), ())


def test_the_words_heard_are_those_that_ended_before_playback_stopped() -> None:
    spoken = SpokenWords()
    spoken.remember(_segment("r1", 0, ("We", 0, 200), ("open", 250, 300)))
    spoken.remember(_segment("r1", 800, ("at", 0, 100), ("nine.", 150, 400)))
    assert spoken.heard("r1", 199) == ""
    assert spoken.heard("r1", 550) == "We open"
    assert spoken.heard("r1", 900) == "We open at"  # the second segment starts at 800 ms
    assert spoken.heard("r1", 10_000) == "We open at nine."
    assert spoken.heard("unknown", 10_000) == ""


def test_only_the_last_replies_can_be_reported_on() -> None:
    spoken = SpokenWords(keep=2)
    for reply in ("r1", "r2", "r3"):
        spoken.remember(_segment(reply, 0, ("hi", 0, 10)))
    assert spoken.heard("r1", 100) == ""
    assert spoken.heard("r2", 100) == spoken.heard("r3", 100) == "hi"
    assert spoken.new_underruns("r1", 5) == 0, "forgotten replies add nothing"


@given(st.lists(st.integers(-3, 20), max_size=12))
def test_cumulative_underrun_reports_add_up_to_the_highest_one(reports: list[int]) -> None:
    spoken = SpokenWords()
    spoken.remember(_segment("r1", 0, ("hi", 0, 10)))
    added = [spoken.new_underruns("r1", n) for n in reports]
    assert all(a >= 0 for a in added)
    assert sum(added) == max([0, *reports])
    assert spoken.new_underruns("made-up", 99) == 0
