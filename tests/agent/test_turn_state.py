"""agent/turn_state.py: guarded transitions between listening, thinking and speaking."""

from __future__ import annotations

import itertools

import pytest

from agent.turn_state import IllegalTransition, TurnState, TurnStateMachine

L, T, S = TurnState.LISTENING, TurnState.THINKING, TurnState.SPEAKING

ALLOWED = {(L, T), (T, S), (T, L), (S, L)}
ALL_PAIRS = list(itertools.product(TurnState, TurnState))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def _ids(pair: tuple[TurnState, TurnState]) -> str:
    return f"{pair[0]}->{pair[1]}"


def test_machine_starts_listening() -> None:
    assert TurnStateMachine().state is L


def test_every_state_pair_is_either_allowed_or_illegal() -> None:
    assert len(ALL_PAIRS) == 9
    assert len(ILLEGAL) == 5


@pytest.mark.parametrize("pair", sorted(ALLOWED), ids=_ids)
def test_allowed_transition_moves_to_target(pair: tuple[TurnState, TurnState]) -> None:
    source, target = pair
    machine = TurnStateMachine(source)

    machine.to(target)

    assert machine.state is target


@pytest.mark.parametrize("pair", ILLEGAL, ids=_ids)
def test_illegal_transition_raises_and_keeps_the_state(pair: tuple[TurnState, TurnState]) -> None:
    source, target = pair
    machine = TurnStateMachine(source)

    with pytest.raises(IllegalTransition, match=f"{source} -> {target}"):
        machine.to(target)

    assert machine.state is source


def test_full_turn_cycle_returns_to_listening() -> None:
    machine = TurnStateMachine()

    for target in (T, S, L, T, L):
        machine.to(target)

    assert machine.state is L


def test_illegal_transition_is_a_runtime_error() -> None:
    assert issubclass(IllegalTransition, RuntimeError)


def test_states_have_stable_wire_names() -> None:
    assert [s.value for s in TurnState] == ["listening", "thinking", "speaking"]
