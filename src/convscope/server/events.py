"""Live run events for Server-Sent Events streams.

One :class:`EventHub` per app polls the store's event table (written by worker processes)
and fans new events out to per-client queues. A client that reads too slowly fills its
bounded queue and is dropped: its stream ends and the browser's ``EventSource``
reconnects with ``Last-Event-ID``, which :func:`event_stream` replays from the database.

A connection costs the event loop only the bytes it sends: the replay is read and
formatted page by page in a worker thread, and a client that does not take what it was
sent within ``Settings.sse_send_timeout_s`` is disconnected (:class:`EventStreamResponse`).
The hub caps the open streams, per run and in all. A finished run's stream ends after its
last event, and a client that already has every event of a finished run gets 204, which
tells ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio.to_thread
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from convscope.server.cache import LRUCache
from convscope.server.encoding import json_safe
from convscope.store import EventRecord, Store
from convscope.store.records import FINISHED

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2
QUEUE_SIZE = 256
HEARTBEAT_S = 15.0
REPLAY_PAGE = 500
#: Replay pages kept formatted: clients that reconnect from the same point (a page
#: reload replays from the start) share them instead of each reading the database.
REPLAY_CACHE_PAGES = 64
#: Largest event id (SQLite integers are 64-bit); a larger resume point means "after all".
MAX_EVENT_ID = 2**63 - 1


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

    async def replay_page(self, run_id: str, after_id: int) -> ReplayPage:
        """A page of a run's stored events after ``after_id``, formatted.

        Read in a thread and kept, so that clients replaying from the same point share it.
        A full page never changes (later events get larger ids) until the run ends and
        its progress events are compacted. A run's last, partial page is dropped as soon
        as the hub sees a new event of the run; until then it may lack events the hub
        has not polled yet, which is harmless: a client subscribes before its replay, so
        those reach it live.
        """
        key = (run_id, after_id)
        page = self._replay_pages.get(key) or self._last_pages.get(key)
        if page is None:
            events, ends = self._events_seen[run_id], self._ends_seen[run_id]
            page = await anyio.to_thread.run_sync(read_replay_page, self.store, run_id, after_id)
            if page.count == REPLAY_PAGE:
                if self._ends_seen[run_id] == ends:
                    self._replay_pages.put(key, page)
            elif self._events_seen[run_id] == events:
                self._last_pages.put(key, page)
        return page

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


async def event_stream(
    hub: EventHub,
    run_id: str,
    last_event_id: int,
    *,
    finished: bool | None = None,
    subscription: Subscription | None = None,
    is_disconnected: Callable[[], Awaitable[bool]] | None = None,
    heartbeat_s: float = HEARTBEAT_S,
) -> AsyncIterator[str | bytes]:
    """The SSE text of one client: stored events after ``last_event_id``, then live ones.

    The client subscribes *before* the replay is read, and live events already covered
    by the replay are skipped, so that nothing is missed and nothing is sent twice. The
    stream ends after the event that ends the run (a finished run's stream ends after
    its replay).

    Args:
        hub: The app's event hub.
        run_id: The run whose events are streamed.
        last_event_id: The id of the last event the client has (0 for none).
        finished: Whether the run had finished before the stream started, when the
            caller knows (read from the store otherwise).
        subscription: The client's subscription, when the caller made it (to refuse a
            client over the caps before answering); made here otherwise.
        is_disconnected: Checked between events, so a gone client frees its queue soon.
        heartbeat_s: Seconds of silence after which a comment line is sent.

    Yields:
        Chunks of ``text/event-stream``: a page of replayed events (bytes, shared by the
        clients replaying it), or one live event.
    """
    subscription = subscription or hub.subscribe(run_id)
    try:
        # The status is read before the replay: a run seen finished here has every event
        # in the database already, so the replay holds its end.
        if finished is None:
            finished = (await anyio.to_thread.run_sync(hub.store.get_run, run_id)).finished
        sent = last_event_id
        while True:
            page = await hub.replay_page(run_id, sent)
            if page.data:
                yield page.data
            sent = page.last_id
            if page.ends_run:
                return
            if page.count < REPLAY_PAGE:
                break
        if finished:
            return
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
            if ends_run(event):
                return
    finally:
        hub.unsubscribe(subscription)


class ClientTooSlow(Exception):
    """A client did not take the bytes sent to it within the send timeout."""


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that drops clients who stop reading.

    Each chunk must be handed to the connection within ``send_timeout`` seconds; a client
    that reads nothing fills the socket's buffers, the send waits, and the response ends
    there, closing the connection. The subscription is released however the response
    ends, even when the stream never started.

    Args:
        stream: The SSE text, from :func:`event_stream`.
        hub: The hub the subscription belongs to.
        subscription: Released when the response ends.
        send_timeout: Seconds a chunk may wait for the client.
    """

    def __init__(
        self,
        stream: AsyncIterator[str | bytes],
        *,
        hub: EventHub,
        subscription: Subscription,
        send_timeout: float,
    ) -> None:
        super().__init__(
            stream,
            media_type="text/event-stream",
            # No caching, and no buffering by a reverse proxy: events must arrive at once.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.hub = hub
        self.subscription = subscription
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def timed_send(message: Message) -> None:
            try:
                async with asyncio.timeout(self.send_timeout):
                    await send(message)
            except TimeoutError:
                raise ClientTooSlow from None

        try:
            await super().__call__(scope, receive, timed_send)
        except ClientTooSlow:
            logger.info(
                "closed an event stream of run %s: the client took nothing for %.0f s",
                self.subscription.run_id,
                self.send_timeout,
            )
        finally:
            self.hub.unsubscribe(self.subscription)
            with contextlib.suppress(Exception):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


def parse_last_event_id(header: str | None, query: str | None) -> int:
    """The resume point from the ``Last-Event-ID`` header, else the query fallback.

    Anything that is not a non-negative integer counts as "from the start"; a number
    past the largest id counts as "after every event".
    """
    for value in (header, query):
        if value is None:
            continue
        text = value.strip()
        if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 40:
            continue
        return min(max(0, int(text)), MAX_EVENT_ID)
    return 0
