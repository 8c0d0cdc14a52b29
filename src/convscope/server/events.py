"""Live run events: the hub that follows the store's event table for the streams.

One :class:`EventHub` per app polls the store's event table (written by worker processes)
and fans new events out to per-client queues. A client that reads too slowly fills its
bounded queue and is dropped: its stream ends and the browser's ``EventSource``
reconnects with ``Last-Event-ID``, which :mod:`convscope.server.streams` replays from the
database, page by page, with the hub's help.

A page is read and formatted in a worker thread and kept for the clients that replay from
the same point. Clients that connect at once share their reads
(:class:`~convscope.server.cache.SingleFlight`), and the streams' reads use a few threads
of their own (``STREAM_THREADS``), so that a thousand reconnecting clients neither read
the same page a thousand times nor take every thread, and the GIL, from the rest of the
API. The hub caps the open streams, per run and in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from convscope.server.cache import LRUCache, SingleFlight
from convscope.server.encoding import json_safe
from convscope.store import EventRecord, Store
from convscope.store.records import FINISHED

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2
QUEUE_SIZE = 256
REPLAY_PAGE = 500
#: Replay pages kept formatted: clients that reconnect from the same point (a page
#: reload replays from the start) share them instead of each reading the database.
REPLAY_CACHE_PAGES = 64
#: Seconds a run's state, read for a client that connects, serves the clients after it.
RUN_STATE_TTL_S = 1.0
#: Run states kept, one per (run, resume point).
RUN_STATES_KEPT = 256
#: Threads the streams' database reads may use at once (the API's own pool is left alone).
STREAM_THREADS = 4
#: Replay pages handed to connections at once. Each hand-over costs the event loop a copy
#: and a socket write; a thousand clients handed their pages in the same turn of the loop
#: would make every other request wait for all of them.
PAGE_SENDERS = 16


def format_event(event: EventRecord) -> str:
    """One event in the SSE wire format: ``id``, ``event`` and one ``data`` line.

    Non-finite numbers in the payload become ``null``.
    """
    payload = json_safe(event.payload)
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def ends_run(event: EventRecord) -> bool:
    """Whether ``event`` is the status event of a run's end (nothing follows it)."""
    return event.kind == "status" and event.payload.get("status") in FINISHED


@dataclass(frozen=True)
class ReplayPage:
    """Stored events after a point, already in the SSE wire format (UTF-8 bytes)."""

    data: bytes
    last_id: int
    count: int
    ends_run: bool


def read_replay_page(
    store: Store, run_id: str, after_id: int, limit: int = REPLAY_PAGE
) -> ReplayPage:
    """Read and format one page of a run's stored events (blocking: call it in a thread).

    Args:
        store: The store.
        run_id: The run.
        after_id: Events with a greater id are read.
        limit: Most events in the page.

    Returns:
        The page; ``count < limit`` means it was the last one.
    """
    events = store.events_after(run_id, after_id, limit=limit)
    return ReplayPage(
        data="".join(format_event(event) for event in events).encode(),
        last_id=events[-1].id if events else after_id,
        count=len(events),
        ends_run=any(ends_run(event) for event in events),
    )


class TooManyStreams(Exception):
    """The cap on open event streams is reached; the client should retry later.

    Args:
        limit: The name of the limit (``sse_max_connections`` or ``sse_max_per_run``).
        maximum: Its value.
    """

    def __init__(self, limit: str, maximum: int) -> None:
        self.limit = limit
        self.maximum = maximum
        super().__init__(f"too many open event streams (limit {limit} = {maximum:,}); retry later")


@dataclass(eq=False)
class Subscription:
    """One client's queue of live events for one run."""

    run_id: str
    queue: asyncio.Queue[EventRecord]
    dropped: bool = False
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


class EventHub:
    """Polls the store for new events and hands them to the subscribed clients.

    Args:
        store: The store whose event table is followed.
        poll_interval: Seconds between two polls.
        queue_size: Events a client may lag behind before it is dropped.
        max_connections: Most subscribed clients in all (None: no cap).
        max_per_run: Most subscribed clients of one run (None: no cap).

    Attributes:
        should_close: Polled with the store; once it returns True every stream ends.
            Open streams never finish by themselves, so a server that shuts down
            gracefully (waiting for its responses to complete) sets this.
    """

    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float = POLL_INTERVAL_S,
        queue_size: int = QUEUE_SIZE,
        max_connections: int | None = None,
        max_per_run: int | None = None,
    ) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self.max_connections = max_connections
        self.max_per_run = max_per_run
        self._subscribers: set[Subscription] = set()
        self._per_run: Counter[str] = Counter()
        self._replay_pages = LRUCache(REPLAY_CACHE_PAGES)
        self._last_pages = LRUCache(REPLAY_CACHE_PAGES)
        # How many events, and how many ends, the hub has seen per run: a page read while
        # one arrived may be out of date, and is not kept.
        self._events_seen: Counter[str] = Counter()
        self._ends_seen: Counter[str] = Counter()
        self._run_states = LRUCache(RUN_STATES_KEPT)
        self._new_waiters()
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.should_close: Callable[[], bool] | None = None

    def _new_waiters(self) -> None:
        self._reads = SingleFlight()
        self._threads = anyio.CapacityLimiter(STREAM_THREADS)
        #: Replay pages being handed to connections (see ``streams.EventStreamResponse``).
        self.page_senders = asyncio.Semaphore(PAGE_SENDERS)

    @property
    def subscriber_count(self) -> int:
        """How many clients are subscribed now."""
        return len(self._subscribers)

    async def start(self) -> None:
        """Start polling from the newest event now in the store."""
        if self._task is not None:
            return
        # Waiters belong to one event loop: a hub started again (an app served once more,
        # in a new loop) starts with new ones.
        self._new_waiters()
        self._last_id = await anyio.to_thread.run_sync(self.store.last_event_id)
        self._task = asyncio.create_task(self._run(), name="convscope-event-hub")

    async def stop(self) -> None:
        """Stop polling and end every stream."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.close_streams()

    def close_streams(self) -> None:
        """End every open stream, and every stream opened from now on after its replay."""
        self._closed = True
        for subscription in list(self._subscribers):
            self._drop(subscription)

    def subscribe(self, run_id: str) -> Subscription:
        """Register a client; it receives every event polled from now on for ``run_id``.

        Raises:
            TooManyStreams: A cap on open streams is reached.
        """
        if self.max_connections is not None and len(self._subscribers) >= self.max_connections:
            raise TooManyStreams("sse_max_connections", self.max_connections)
        if self.max_per_run is not None and self._per_run[run_id] >= self.max_per_run:
            raise TooManyStreams("sse_max_per_run", self.max_per_run)
        subscription = Subscription(run_id, asyncio.Queue(maxsize=self.queue_size))
        if self._closed:
            subscription.dropped = True
        else:
            self._subscribers.add(subscription)
            self._per_run[run_id] += 1
        return subscription

    async def run_state(self, run_id: str, after_id: int) -> tuple[bool, bool]:
        """Whether the run has finished, and whether a client that has every event up to
        ``after_id`` has them all (then there is nothing to stream).

        Clients asking at the same time share one read, and its answer serves the clients
        that ask within ``RUN_STATE_TTL_S`` as long as the hub has seen no new event of
        the run (a run's status changes with an event).

        Raises:
            NotFound: No run ``run_id``.
        """
        seen = (self._events_seen[run_id], self._ends_seen[run_id])
        kept = self._run_states.get((run_id, after_id))
        if kept is not None and kept[0] == seen and time.monotonic() - kept[1] < RUN_STATE_TTL_S:
            return kept[2]

        def read() -> tuple[bool, bool]:
            finished = self.store.get_run(run_id).finished
            return finished, finished and not self.store.events_after(run_id, after_id, limit=1)

        async def read_and_keep() -> tuple[bool, bool]:
            read_at = time.monotonic()
            state = await anyio.to_thread.run_sync(read, limiter=self._threads)
            self._run_states.put((run_id, after_id), (seen, read_at, state))
            return state

        return await self._reads.run(("state", run_id, after_id, seen), read_and_keep)

    async def replay_page(self, run_id: str, after_id: int) -> ReplayPage:
        """A page of a run's stored events after ``after_id``, formatted.

        Read in a thread and kept, so that clients replaying from the same point share it.
        A full page never changes (later events get larger ids) until the run ends and
        its progress events are compacted. A run's last, partial page is dropped as soon
        as the hub sees a new event of the run; until then it may lack events the hub
        has not polled yet, which is harmless: a client subscribes before its replay, so
        those reach it live. For the same reason a client joins a read already under way
        only if the hub has seen no event of the run since that read began.
        """
        key = (run_id, after_id)
        page = self._replay_pages.get(key) or self._last_pages.get(key)
        if page is not None:
            return page
        events, ends = self._events_seen[run_id], self._ends_seen[run_id]

        async def read() -> ReplayPage:
            page = await anyio.to_thread.run_sync(
                read_replay_page, self.store, run_id, after_id, limiter=self._threads
            )
            if page.count == REPLAY_PAGE:
                if self._ends_seen[run_id] == ends:
                    self._replay_pages.put(key, page)
            elif self._events_seen[run_id] == events:
                self._last_pages.put(key, page)
            return page

        return await self._reads.run(("page", run_id, after_id, events, ends), read)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a client (idempotent)."""
        if subscription in self._subscribers:
            self._subscribers.discard(subscription)
            self._per_run[subscription.run_id] -= 1
            if self._per_run[subscription.run_id] <= 0:
                del self._per_run[subscription.run_id]

    async def poll_once(self) -> int:
        """Fetch the events added since the last poll and fan them out; returns how many."""
        total = 0
        while True:
            events = await anyio.to_thread.run_sync(
                functools.partial(self.store.events_after, None, self._last_id, limit=REPLAY_PAGE)
            )
            for event in events:
                self._last_id = max(self._last_id, event.id)
                self._publish(event)
            total += len(events)
            if len(events) < REPLAY_PAGE:
                return total

    def _publish(self, event: EventRecord) -> None:
        # The run's last page lacks this event now.
        self._events_seen[event.run_id] += 1
        self._last_pages.discard_prefix(event.run_id)
        if ends_run(event):
            # The store has compacted the run's events: its cached pages are out of date.
            self._ends_seen[event.run_id] += 1
            self._replay_pages.discard_prefix(event.run_id)
        for subscription in list(self._subscribers):
            if subscription.run_id != event.run_id:
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.info("dropping a slow event stream of run %s", subscription.run_id)
                self._drop(subscription)
            else:
                subscription.wakeup.set()

    def _drop(self, subscription: Subscription) -> None:
        subscription.dropped = True
        subscription.wakeup.set()
        self.unsubscribe(subscription)

    async def _run(self) -> None:
        while True:
            if self.should_close is not None and self.should_close():
                self.close_streams()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A locked or briefly unavailable database must not end live streams.
                logger.exception("polling run events failed; retrying")
            await asyncio.sleep(self.poll_interval)
