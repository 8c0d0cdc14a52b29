"""Caches: a small thread-safe LRU for values derived from files that never change, and
:class:`SingleFlight`, which lets concurrent requests for one value share its computation.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class LRUCache:
    """Keeps the ``capacity`` most recently used values.

    Only values computed from immutable inputs (a snapshot's file, a run's probe set)
    belong here: nothing is ever invalidated.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The cached value of ``key``, or ``default``."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        """Store a value, forgetting the least recently used beyond the capacity."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing and storing it when absent."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        # Computed outside the lock: two threads may compute the same value once each,
        # which is cheaper than serialising every computation.
        value = compute()
        self.put(key, value)
        return value

    def discard_prefix(self, prefix: Hashable) -> None:
        """Forget every key that is a tuple starting with ``prefix`` (a deleted run)."""
        with self._lock:
            for key in [k for k in self._items if isinstance(k, tuple) and k[:1] == (prefix,)]:
                del self._items[key]


class SingleFlight:
    """Concurrent callers asking for the same key share one computation.

    A thousand clients that reconnect at once and ask for the same thing cost one
    computation, not a thousand. Nothing is kept once it is done: callers arriving later
    start a new one. A caller that is cancelled does not cancel the computation the others
    wait for.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The result of ``compute()``, shared with every caller of the same ``key`` that
        arrives while it runs."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)
