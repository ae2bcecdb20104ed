"""The conversational state of a session, with guarded transitions (sans-I/O).

LISTENING ──response created──▶ THINKING ──first delta──▶ SPEAKING ──done──▶ LISTENING
THINKING and SPEAKING return to LISTENING when a response completes, is cancelled or fails.
Any other transition is a bug and raises ``IllegalTransition``.
"""

from __future__ import annotations

from enum import StrEnum


class TurnState(StrEnum):
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"


class IllegalTransition(RuntimeError):
    pass


_ALLOWED: dict[TurnState, frozenset[TurnState]] = {
    TurnState.LISTENING: frozenset({TurnState.THINKING}),
    TurnState.THINKING: frozenset({TurnState.SPEAKING, TurnState.LISTENING}),
    TurnState.SPEAKING: frozenset({TurnState.LISTENING}),
}


class TurnStateMachine:
    def __init__(self, state: TurnState = TurnState.LISTENING) -> None:
        self._state = state

    @property
    def state(self) -> TurnState:
        return self._state

    def to(self, target: TurnState) -> None:
        """Move to ``target``; raises ``IllegalTransition`` if the move is not allowed."""
        if target not in _ALLOWED[self._state]:
            raise IllegalTransition(f"{self._state} -> {target}")
        self._state = target
