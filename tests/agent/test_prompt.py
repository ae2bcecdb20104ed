"""agent/prompt.py: the system prompt plus the newest history that fits the budget."""

from __future__ import annotations

from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from agent.llm.protocols import ChatMessage
from agent.prompt import HistoryItem, build_messages

SYSTEM = "You are Ada."


def _item(n: int, role: Literal["user", "assistant"], text: str) -> HistoryItem:
    return HistoryItem(f"item_{n}", role, text)


def _conversation(*texts: str) -> list[HistoryItem]:
    """Alternating user / assistant turns, starting with the user."""
    return [_item(i, "user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)]


def _contents(messages: list[ChatMessage]) -> list[str]:
    return [m.content for m in messages]


def test_empty_history_gives_only_the_system_message() -> None:
    assert build_messages(SYSTEM, [], 1000) == [ChatMessage("system", SYSTEM)]


def test_history_within_budget_is_kept_whole_in_order() -> None:
    history = _conversation("hi", "hello", "how are you?")

    messages = build_messages(SYSTEM, history, 1000)

    assert messages == [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", "hi"),
        ChatMessage("assistant", "hello"),
        ChatMessage("user", "how are you?"),
    ]


def test_budget_keeps_the_newest_items() -> None:
    history = _conversation("aaaa", "bbbb", "cccc", "dddd", "eeee")

    messages = build_messages(SYSTEM, history, 12)

    assert _contents(messages) == [SYSTEM, "cccc", "dddd", "eeee"]


def test_budget_is_inclusive() -> None:
    history = _conversation("aaaa", "bbbb", "cccc")

    assert _contents(build_messages(SYSTEM, history, 12)) == [SYSTEM, "aaaa", "bbbb", "cccc"]
    assert _contents(build_messages(SYSTEM, history, 11)) == [SYSTEM, "cccc"]


def test_system_prompt_does_not_count_against_the_budget() -> None:
    history = _conversation("abc")

    messages = build_messages("x" * 10_000, history, 3)

    assert _contents(messages)[1:] == ["abc"]


def test_newest_item_is_kept_even_when_it_alone_exceeds_the_budget() -> None:
    history = _conversation("short", "reply", "x" * 500)

    messages = build_messages(SYSTEM, history, 10)

    assert _contents(messages) == [SYSTEM, "x" * 500]


def test_newest_item_is_kept_with_zero_budget() -> None:
    messages = build_messages(SYSTEM, _conversation("hello"), 0)

    assert messages == [ChatMessage("system", SYSTEM), ChatMessage("user", "hello")]


def test_empty_items_are_skipped_and_do_not_stop_the_window() -> None:
    history = [
        _item(0, "user", "one"),
        _item(1, "assistant", ""),
        _item(2, "user", "two"),
        _item(3, "assistant", "three"),
        _item(4, "user", "four"),
        _item(5, "assistant", ""),
    ]

    messages = build_messages(SYSTEM, history, 1000)

    assert _contents(messages) == [SYSTEM, "one", "two", "three", "four"]


def test_empty_newest_item_is_skipped_and_the_previous_one_is_kept() -> None:
    history = [_item(0, "user", "x" * 50), _item(1, "assistant", "")]

    messages = build_messages(SYSTEM, history, 1)

    assert _contents(messages) == [SYSTEM, "x" * 50]


def test_window_never_starts_with_an_assistant_message() -> None:
    # The budget reaches back to "bbb" (an assistant turn); it is dropped.
    history = _conversation("aaaaaaaa", "bbb", "ccc")

    messages = build_messages(SYSTEM, history, 6)

    assert _contents(messages) == [SYSTEM, "ccc"]


def test_leading_assistant_messages_are_all_dropped() -> None:
    history = [
        _item(0, "assistant", "greeting"),
        _item(1, "assistant", "more"),
        _item(2, "user", "hi"),
        _item(3, "assistant", "hello"),
    ]

    messages = build_messages(SYSTEM, history, 1000)

    assert _contents(messages) == [SYSTEM, "hi", "hello"]


def test_history_of_only_assistant_messages_leaves_only_the_system_message() -> None:
    history = [_item(0, "assistant", "greeting")]

    assert build_messages(SYSTEM, history, 1000) == [ChatMessage("system", SYSTEM)]


def test_system_message_is_first() -> None:
    messages = build_messages(SYSTEM, _conversation("a", "b", "c"), 1000)

    assert messages[0] == ChatMessage("system", SYSTEM)
    assert all(m.role != "system" for m in messages[1:])


def test_roles_are_carried_over() -> None:
    messages = build_messages(SYSTEM, _conversation("q", "a"), 1000)

    assert [m.role for m in messages] == ["system", "user", "assistant"]


# ── property ────────────────────────────────────────────────────────────────

items = st.builds(
    HistoryItem,
    item_id=st.uuids().map(str),
    role=st.sampled_from(["user", "assistant"]),
    text=st.one_of(st.just(""), st.text(min_size=1, max_size=30)),
)


@given(st.lists(items, max_size=25), st.integers(0, 200))
def test_window_is_a_user_led_suffix_of_the_non_empty_history_within_budget(
    history: list[HistoryItem], budget: int
) -> None:
    messages = build_messages(SYSTEM, history, budget)

    assert messages[0] == ChatMessage("system", SYSTEM)
    window = [(m.role, m.content) for m in messages[1:]]
    non_empty = [(h.role, h.text) for h in history if h.text]
    start = len(non_empty) - len(window)
    # A suffix of the non-empty history, in order.
    assert start >= 0
    assert non_empty[start:] == window
    # Starting with a user turn.
    if window:
        assert window[0][0] == "user"
    # The newest non-empty turn is always there when it is the user's.
    if non_empty and non_empty[-1][0] == "user":
        assert window and window[-1] == non_empty[-1]
    # Within budget unless it is the single newest item.
    if len(window) > 1:
        assert sum(len(text) for _, text in window) <= budget
    # As long as possible: a user turn just before the window did not fit.
    if window and start > 0 and non_empty[start - 1][0] == "user":
        used = sum(len(text) for _, text in window)
        assert used + len(non_empty[start - 1][1]) > budget
