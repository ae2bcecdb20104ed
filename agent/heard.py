"""What the user heard of a reply (pure): the words played before playback stopped."""

from __future__ import annotations


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
