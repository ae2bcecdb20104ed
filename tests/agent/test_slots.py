"""SlotPool: conversations return to their own context; LRU hand-over when all are owned."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.llm.slots import NoFreeSlot, SlotPool


def test_a_conversation_gets_its_own_slot_back() -> None:
    pool = SlotPool(3)
    a = pool.acquire("a")
    pool.release(a)
    b = pool.acquire("b")
    pool.release(b)
    assert pool.acquire("a") == a
    assert pool.hits == 1


def test_unowned_slots_are_used_before_taking_one_from_another_conversation() -> None:
    pool = SlotPool(3)
    taken = []
    for key in ("a", "b", "c"):
        slot = pool.acquire(key)
        pool.release(slot)
        taken.append(slot)
    assert sorted(taken) == [0, 1, 2]


def test_when_all_slots_are_owned_the_least_recently_used_changes_hands() -> None:
    pool = SlotPool(2)
    a = pool.acquire("a")
    b = pool.acquire("b")
    pool.release(a)
    pool.release(b)  # a is now the least recently used
    assert pool.acquire("c") == a
    assert pool.acquire("b") == b


def test_a_busy_own_slot_is_not_shared() -> None:
    pool = SlotPool(2)
    first = pool.acquire("a")
    second = pool.acquire("a")
    assert first != second
    assert pool.hits == 0


def test_no_free_slot_raises_and_anonymous_requests_never_hit() -> None:
    pool = SlotPool(1)
    slot = pool.acquire(None)
    with pytest.raises(NoFreeSlot):
        pool.acquire("a")
    pool.release(slot)
    pool.release(pool.acquire(None))
    assert pool.hits == 0


def test_releasing_a_free_slot_is_a_bug() -> None:
    pool = SlotPool(1)
    with pytest.raises(RuntimeError):
        pool.release(0)
    with pytest.raises(ValueError):
        SlotPool(0)


@given(
    size=st.integers(1, 4),
    ops=st.lists(
        st.tuples(st.booleans(), st.sampled_from(["a", "b", "c", "d", None])), max_size=40
    ),
)
def test_slots_are_never_handed_out_twice(size: int, ops: list[tuple[bool, str | None]]) -> None:
    pool = SlotPool(size)
    held: list[int] = []
    for take, key in ops:
        if take:
            try:
                slot = pool.acquire(key)
            except NoFreeSlot:
                assert len(held) == size
                continue
            assert slot not in held
            held.append(slot)
        elif held:
            pool.release(held.pop(0))
        assert pool.busy == len(held)
