"""Live run events for Server-Sent Events streams.

One :class:`EventHub` per app polls the store's event table (written by worker processes)
and fans new events out to per-client queues. A client that reads too slowly fills its
bounded queue and is dropped: its stream ends and the browser's ``EventSource``
reconnects with ``Last-Event-ID``, which :func:`event_stream` replays from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio.to_thread

from convscope.server.encoding import json_safe
from convscope.store import EventRecord, Store

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2
QUEUE_SIZE = 256
HEARTBEAT_S = 15.0
REPLAY_PAGE = 500


def format_event(event: EventRecord) -> str:
    """One event in the SSE wire format: ``id``, ``event`` and one ``data`` line.

    Non-finite numbers in the payload become ``null``.
    """
    payload = json_safe(event.payload)
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


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

    Attributes:
        should_close: Polled with the store; once it returns True every stream ends.
            Open streams never finish by themselves, so a server that shuts down
            gracefully (waiting for its responses to complete) sets this.
    """

    def __init__(
        self, store: Store, *, poll_interval: float = POLL_INTERVAL_S, queue_size: int = QUEUE_SIZE
    ) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.should_close: Callable[[], bool] | None = None

    @property
    def subscriber_count(self) -> int:
        """How many clients are subscribed now."""
        return len(self._subscribers)

    async def start(self) -> None:
        """Start polling from the newest event now in the store."""
        if self._task is not None:
            return
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
        """Register a client; it receives every event polled from now on for ``run_id``."""
        subscription = Subscription(run_id, asyncio.Queue(maxsize=self.queue_size))
        if self._closed:
            subscription.dropped = True
        else:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a client (idempotent)."""
        self._subscribers.discard(subscription)

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


async def event_stream(
    hub: EventHub,
    run_id: str,
    last_event_id: int,
    *,
    is_disconnected: Callable[[], Awaitable[bool]] | None = None,
    heartbeat_s: float = HEARTBEAT_S,
) -> AsyncIterator[str]:
    """The SSE text of one client: stored events after ``last_event_id``, then live ones.

    The client subscribes *before* the replay is read, and live events already covered
    by the replay are skipped, so that nothing is missed and nothing is sent twice.

    Args:
        hub: The app's event hub.
        run_id: The run whose events are streamed.
        last_event_id: The id of the last event the client has (0 for none).
        is_disconnected: Checked between events, so a gone client frees its queue soon.
        heartbeat_s: Seconds of silence after which a comment line is sent.

    Yields:
        Chunks of ``text/event-stream``.
    """
    subscription = hub.subscribe(run_id)
    try:
        sent = last_event_id
        while True:
            replay = await anyio.to_thread.run_sync(
                functools.partial(hub.store.events_after, run_id, sent, limit=REPLAY_PAGE)
            )
            for event in replay:
                yield format_event(event)
                sent = event.id
            if len(replay) < REPLAY_PAGE:
                break
        yield ": connected\n\n"
        idle = 0.0
        while not subscription.dropped:
            if subscription.queue.empty():
                subscription.wakeup.clear()
                waited = min(1.0, heartbeat_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscription.wakeup.wait(), timeout=waited)
                if subscription.queue.empty() and not subscription.dropped:
                    idle += waited
                    if is_disconnected is not None and await is_disconnected():
                        return
                    if idle >= heartbeat_s:
                        idle = 0.0
                        yield ": heartbeat\n\n"
                continue
            if subscription.dropped:
                break
            event = subscription.queue.get_nowait()
            if event.id <= sent:
                continue
            idle = 0.0
            yield format_event(event)
            sent = event.id
    finally:
        hub.unsubscribe(subscription)


def parse_last_event_id(header: str | None, query: str | None) -> int:
    """The resume point from the ``Last-Event-ID`` header, else the query fallback.

    Anything that is not a non-negative integer counts as "from the start".
    """
    for value in (header, query):
        if value is None:
            continue
        try:
            parsed = int(value.strip())
        except ValueError:
            continue
        return max(0, parsed)
    return 0
