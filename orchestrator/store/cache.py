"""A cache of what the store holds that follows its transactions: rolled-back writes vanish.

Each step of an execution reads its state and writes the next one. Parsing the state back
from the row it was just written to costs time in proportion to its size (an inline Map of
4,000 items: 10 ms a step, for every item), so the store keeps recent states in memory. A
write is staged in the transaction (or savepoint) that made it, joins the level below when
that one is released, and reaches the cache only when the outermost transaction commits; a
rollback drops what its level staged. So the cache never holds a state the file does not.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class StagedCache(Generic[K, V]):
    """Committed entries, most recently used last (at most ``capacity``), and a stack of
    the entries staged by the open transaction levels. A staged ``None`` is a removal."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._committed: OrderedDict[K, V] = OrderedDict()
        self._levels: list[dict[K, V | None]] = []

    def get(self, key: K) -> V | None:
        """The newest value of ``key`` (staged first), or None when not cached."""
        for level in reversed(self._levels):
            if key in level:
                return level[key]
        value = self._committed.get(key)
        if value is not None:
            self._committed.move_to_end(key)
        return value

    def remember(self, key: K, value: V) -> None:
        """A value read from the committed file (not written by an open transaction)."""
        if any(key in level for level in self._levels):
            return
        self._committed[key] = value
        self._committed.move_to_end(key)
        self._trim()

    def stage(self, key: K, value: V | None) -> None:
        """A write of the open transaction (``None``: forget the key when it commits)."""
        if self._levels:
            self._levels[-1][key] = value
        else:
            self._apply({key: value})

    def begin(self) -> None:
        """A transaction or savepoint opens."""
        self._levels.append({})

    def release(self) -> None:
        """The innermost level succeeded: its writes join the level below, or the committed
        entries when it was the outermost (call only after its COMMIT succeeded)."""
        staged = self._levels.pop()
        if self._levels:
            self._levels[-1].update(staged)
        else:
            self._apply(staged)

    def rollback(self) -> None:
        """The innermost level was rolled back: forget what it staged."""
        self._levels.pop()

    def clear(self) -> None:
        """Forget everything (the file changed under us, or the store closes)."""
        self._committed.clear()
        self._levels.clear()

    def _apply(self, staged: dict[K, V | None]) -> None:
        for key, value in staged.items():
            if value is None:
                self._committed.pop(key, None)
            else:
                self._committed[key] = value
                self._committed.move_to_end(key)
        self._trim()

    def _trim(self) -> None:
        while len(self._committed) > self.capacity:
            self._committed.popitem(last=False)
