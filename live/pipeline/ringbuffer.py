"""A bounded buffer between two pipeline threads.

When the consumer falls behind, `put` drops the OLDEST item (so a slow stage
never builds up latency: the consumer always gets the newest items) and
counts the drop. With `block_when_full=True` (offline runs that must keep
every frame) `put` waits for room instead. `get(timeout_s)` waits on a
Condition; `close()` wakes every waiter: the consumer drains what is left,
then `get` returns None and `finished` is true.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

Item = TypeVar("Item")


class RingBuffer(Generic[Item]):
    """Thread-safe bounded FIFO that drops the oldest item when full (or blocks, if asked)."""

    def __init__(self, name: str, capacity: int, block_when_full: bool = False) -> None:
        if capacity < 1:
            raise ValueError(f"ring buffer {name!r}: capacity must be at least 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self.block_when_full = block_when_full
        self._items: deque[Item] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._put_count = 0
        self._dropped_count = 0
        self._high_water = 0

    def put(self, item: Item) -> bool:
        """Add an item; False when the buffer is closed (the item is counted as dropped)."""
        with self._condition:
            if self.block_when_full:
                self._condition.wait_for(lambda: self._closed or len(self._items) < self.capacity)
            if self._closed:
                self._dropped_count += 1
                return False
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self._dropped_count += 1
            self._items.append(item)
            self._put_count += 1
            self._high_water = max(self._high_water, len(self._items))
            self._condition.notify_all()
            return True

    def get(self, timeout_s: float | None = None) -> Item | None:
        """The oldest item, waiting up to `timeout_s`; None on timeout or when closed and empty."""
        with self._condition:
            self._condition.wait_for(lambda: self._items or self._closed, timeout_s)
            if not self._items:
                return None
            item = self._items.popleft()
            self._condition.notify_all()
            return item

    def close(self) -> None:
        """No more puts; waiters wake up. Items already in are still delivered. Idempotent."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def discard_remaining(self) -> int:
        """Drop every queued item (counted as dropped); returns how many. For shutdown."""
        with self._condition:
            count = len(self._items)
            self._items.clear()
            self._dropped_count += count
            self._condition.notify_all()
            return count

    @property
    def closed(self) -> bool:
        """True once close() has been called."""
        with self._condition:
            return self._closed

    @property
    def finished(self) -> bool:
        """True when closed and drained: the consumer can stop."""
        with self._condition:
            return self._closed and not self._items

    @property
    def dropped_count(self) -> int:
        """Items dropped: pushed out when full, refused after close, or discarded at shutdown."""
        with self._condition:
            return self._dropped_count

    @property
    def put_count(self) -> int:
        """Items accepted so far."""
        with self._condition:
            return self._put_count

    @property
    def high_water(self) -> int:
        """Most items ever held at once (never above capacity)."""
        with self._condition:
            return self._high_water

    def __len__(self) -> int:
        with self._condition:
            return len(self._items)
