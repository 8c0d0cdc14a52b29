"""Garbage collection in the server's process: full collections on a timer.

A full collection of CPython's cyclic garbage collector walks every object the process
tracks, and every request waits until it is done. The server process holds about 90,000
objects once it has started (modules, the app) and about 140 more for each open event
stream (most of them the coroutine frames of the middleware stack), so with a thousand
open streams one full collection takes 100 to 300 ms on a small machine; CPython starts
one whenever enough objects have survived the younger collections, which a thousand
reconnecting clients cause every second or two.

:class:`FullCollections` therefore, once the server has started, freezes what exists
then (it is never garbage, and is no longer walked), leaves the young generations to
CPython as usual, and runs the full collections itself, once every ``interval_s``.
Reference counting frees everything that is not in a cycle at once, as before; cycles
that outlive the young generations wait at most ``interval_s`` longer.

Only the dedicated server process (``convscope serve``, ``python -m convscope.server``,
``convscope.show()``) does this; an app embedded in another process leaves its garbage
collector alone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

logger = logging.getLogger(__name__)

#: Seconds between two full collections.
FULL_COLLECTION_INTERVAL_S = 60.0
#: A threshold the oldest generation never reaches: CPython starts no full collection.
_NEVER = 1_000_000_000


class FullCollections:
    """Full garbage collections on a timer instead of when CPython decides.

    Args:
        interval_s: Seconds between two full collections.
    """

    def __init__(self, interval_s: float = FULL_COLLECTION_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.last_pause_s: float | None = None

    def take_over(self) -> None:
        """Collect once, freeze what is left, and stop CPython's own full collections."""
        gc.collect()
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, _NEVER)

    def collect(self) -> int:
        """One full collection now; returns how many unreachable objects it found."""
        started = time.perf_counter()
        found = gc.collect()
        self.last_pause_s = time.perf_counter() - started
        pause_ms = self.last_pause_s * 1e3
        logger.debug("full garbage collection: %d objects in %.0f ms", found, pause_ms)
        return found

    async def run(self) -> None:
        """Collect every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            self.collect()
