"""heard_prefix: history keeps only whole words the user heard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.heard import heard_prefix

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
