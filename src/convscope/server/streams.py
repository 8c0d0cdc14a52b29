"""One client's event stream: the replay of stored events, then live ones.

:func:`event_stream` writes the SSE text of one client from the hub's replay pages and its
subscription; :class:`EventStreamResponse` sends it. A connection costs the event loop
only the bytes it sends: a client that does not take what it was sent within
``Settings.sse_send_timeout_s`` is disconnected, and replay pages take turns
(``EventHub.page_senders``). A finished run's stream ends after its last event, and a
client that already has every event of a finished run gets 204, which tells
``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from convscope.server.events import (
    REPLAY_PAGE,
    EventHub,
    Subscription,
    ends_run,
    format_event,
)

logger = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
#: Chunks at least this long (replay pages) take turns; live events go out at once.
PACED_BYTES = 16 * 1024
#: A page hand-over still waiting for its client after this many seconds (it stopped
#: reading) frees its place for the next one and waits on its own.
SENDER_GRACE_S = 0.05
#: Largest event id (SQLite integers are 64-bit); a larger resume point means "after all".
MAX_EVENT_ID = 2**63 - 1


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
            finished, _ = await hub.run_state(run_id, last_event_id)
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

    Replay pages take turns (``EventHub.page_senders``), so that the loop never hands
    more than a few of them over in one go and other requests are answered in between.

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
                    if len(message.get("body", b"")) < PACED_BYTES:
                        await send(message)  # a live event, a heartbeat, the headers
                    else:
                        await self._send_page(send, message)
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

    async def _send_page(self, send: Send, message: Message) -> None:
        sending: asyncio.Future[None] | None = None
        try:
            async with self.hub.page_senders:
                sending = asyncio.ensure_future(send(message))
                await asyncio.wait({sending}, timeout=SENDER_GRACE_S)
            await sending
        finally:
            if sending is not None and not sending.done():
                sending.cancel()


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
