"""Which model context serves which conversation (pure).

A context's KV cache holds the prompt it last evaluated. Sending a conversation back to the
context that served it last means only the new turn is evaluated, not the whole history: on a
2-core machine that is the difference between ~50 ms and seconds per reply. Contexts outnumber
the generations that run at once, so a conversation keeps its context while others come and go;
when all are owned, the least recently used one changes hands.
"""

from __future__ import annotations


class NoFreeSlot(RuntimeError):
    pass


class SlotPool:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one slot")
        self._owner: list[str | None] = [None] * size
        self._busy = [False] * size
        self._last_used = [0] * size
        self._clock = 0
        self.hits = 0
        """Acquisitions that found the conversation's own context free (its cache warm)."""

    @property
    def size(self) -> int:
        return len(self._owner)

    @property
    def busy(self) -> int:
        return sum(self._busy)

    def acquire(self, key: str | None) -> int:
        """Take a free slot for conversation ``key``; raises ``NoFreeSlot`` if all are busy.

        Prefers the slot ``key`` used last, then a slot nobody owns, then the least recently
        used one.
        """
        free = [i for i, busy in enumerate(self._busy) if not busy]
        if not free:
            raise NoFreeSlot
        own = [i for i in free if key is not None and self._owner[i] == key]
        if own:
            self.hits += 1
            chosen = own[0]
        else:
            chosen = min(free, key=lambda i: (self._owner[i] is not None, self._last_used[i]))
        self._busy[chosen] = True
        self._owner[chosen] = key
        return chosen

    def release(self, slot: int) -> None:
        if not self._busy[slot]:
            raise RuntimeError(f"slot {slot} is not in use")
        self._busy[slot] = False
        self._clock += 1
        self._last_used[slot] = self._clock
