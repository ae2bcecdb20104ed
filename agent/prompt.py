"""Build the model's prompt from a persona and the conversation history (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.llm.protocols import ChatMessage


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One stored message of a conversation."""

    item_id: str
    role: Literal["user", "assistant"]
    text: str


def build_messages(
    system_prompt: str, history: Sequence[HistoryItem], budget_chars: int
) -> list[ChatMessage]:
    """Return the system message followed by the newest history that fits ``budget_chars``.

    The newest item is always kept. Empty items (a reply cancelled before its first word) are
    skipped, and the window never starts with an assistant message, so chat templates that
    expect a user turn first are satisfied.
    """
    kept: list[HistoryItem] = []
    used = 0
    for item in reversed(history):
        if not item.text:
            continue
        if kept and used + len(item.text) > budget_chars:
            break
        kept.append(item)
        used += len(item.text)
    kept.reverse()
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return [ChatMessage("system", system_prompt)] + [
        ChatMessage(item.role, item.text) for item in kept
    ]
