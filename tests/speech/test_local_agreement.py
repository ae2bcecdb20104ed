"""speech/local_agreement.py: LocalAgreement-2 turns changing hypotheses into stable captions."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from speech.local_agreement import LocalAgreement


def words(text: str) -> list[str]:
    """Words compared the way LocalAgreement compares them: case and punctuation ignored."""
    return [re.sub(r"[^\w']+", "", token.lower()) for token in text.split()]


def test_first_hypothesis_is_all_tail_and_nothing_stable() -> None:
    agreement = LocalAgreement()

    assert agreement.update("I would like") == ("", "I would like")
    assert agreement.stable == ""


def test_words_two_consecutive_hypotheses_agree_on_become_stable() -> None:
    agreement = LocalAgreement()
    agreement.update("I would like")

    assert agreement.update("I would like to change") == ("I would like", "to change")


def test_agreement_stops_at_the_first_differing_word() -> None:
    agreement = LocalAgreement()
    agreement.update("I would like to change my")

    assert agreement.update("I would lie to change my") == ("I would", "lie to change my")


def test_hypotheses_that_differ_from_the_start_make_nothing_stable() -> None:
    agreement = LocalAgreement()
    agreement.update("Hi there")

    assert agreement.update("I would like") == ("", "I would like")


def test_stable_prefix_grows_only_when_the_new_words_were_also_in_the_previous_hypothesis() -> None:
    agreement = LocalAgreement()
    agreement.update("what time")
    agreement.update("what time does")  # "what time" stable

    # "the store" is new in this hypothesis: shown, not yet stable.
    assert agreement.update("what time does the store") == ("what time does", "the store")
    # Confirmed by the next one.
    assert agreement.update("what time does the store open") == (
        "what time does the store",
        "open",
    )


def test_stable_words_are_never_taken_back_when_a_hypothesis_diverges() -> None:
    agreement = LocalAgreement()
    agreement.update("my order has")
    agreement.update("my order has not")  # "my order has" stable

    # Whisper changed its mind about earlier words: the caption keeps what was shown as stable.
    assert agreement.update("mine or there has not") == ("my order has", "")
    assert agreement.update("mine or there has not arrived") == ("my order has", "")
    # Back on track: the tail shows again and agreement resumes.
    assert agreement.update("my order has not arrived yet") == ("my order has", "not arrived yet")
    assert agreement.update("my order has not arrived yet.") == (
        "my order has not arrived yet.",
        "",
    )


def test_a_shorter_hypothesis_does_not_shrink_the_stable_prefix() -> None:
    agreement = LocalAgreement()
    agreement.update("can you tell me")
    agreement.update("can you tell me the")

    assert agreement.update("can you") == ("can you tell me", "")


def test_case_and_punctuation_do_not_break_agreement() -> None:
    agreement = LocalAgreement()
    agreement.update("thank you, that")

    stable, tail = agreement.update("Thank you that is")

    assert words(stable) == ["thank", "you", "that"]
    assert tail == "is"


def test_stable_words_take_the_spelling_of_the_hypothesis_that_extended_them() -> None:
    """Only case and punctuation can change in the stable part: clients replace, not append."""
    agreement = LocalAgreement()
    agreement.update("I would like.")
    agreement.update("I would like. To")  # stable: "I would like."

    assert agreement.update("i would like to change") == ("i would like to", "change")


def test_apostrophes_are_part_of_the_word() -> None:
    agreement = LocalAgreement()
    agreement.update("it's here")

    assert agreement.update("its here now") == ("", "its here now")


def test_reset_forgets_the_stable_prefix_and_the_previous_hypothesis() -> None:
    agreement = LocalAgreement()
    agreement.update("my order has")
    agreement.update("my order has not")

    agreement.reset()

    assert agreement.stable == ""
    assert agreement.update("my order has not") == ("", "my order has not")


def test_empty_hypothesis_keeps_the_stable_prefix_and_shows_no_tail() -> None:
    agreement = LocalAgreement()
    agreement.update("do you ship")
    agreement.update("do you ship to")

    assert agreement.update("") == ("do you ship", "")


# ── properties ───────────────────────────────────────────────────────────────

spelled_word = st.tuples(
    st.sampled_from(["do", "you", "ship", "to", "canada", "it's"]),
    st.sampled_from(["", ",", ".", "?"]),
    st.booleans(),
).map(lambda t: (t[0].capitalize() if t[2] else t[0]) + t[1])
hypotheses = st.lists(st.lists(spelled_word, max_size=8).map(" ".join), max_size=12)


@settings(deadline=None)  # pure and fast; a busy machine must not make it flaky
@given(hypotheses)
def test_stable_text_only_ever_grows_by_words(sequence: list[str]) -> None:
    agreement = LocalAgreement()
    before: list[str] = []

    for hypothesis in sequence:
        stable, tail = agreement.update(hypothesis)

        now = words(stable)
        assert now[: len(before)] == before, (before, now)
        assert stable == agreement.stable
        if words(hypothesis)[: len(now)] == now:
            # The caption is the hypothesis itself, split into stable and unstable words.
            assert words(f"{stable} {tail}") == words(hypothesis)
        else:
            assert tail == ""
        before = now


@settings(deadline=None)  # pure and fast; a busy machine must not make it flaky
@given(hypotheses)
def test_everything_stable_was_in_two_consecutive_hypotheses(sequence: list[str]) -> None:
    agreement = LocalAgreement()
    previous = ""

    for hypothesis in sequence:
        before = words(agreement.stable)
        stable, _ = agreement.update(hypothesis)
        grown = words(stable)
        if grown != before:
            assert words(hypothesis)[: len(grown)] == grown
            assert words(previous)[: len(grown)] == grown
        previous = hypothesis
