"""Event streams take turns to start and to end.

Starting or ending a request runs the whole middleware stack, the routing and the
response's machinery: about half a millisecond of the event loop's time. A thousand
``EventSource`` clients that reconnect together (a server restart, a run that ends) start
a thousand requests in the same turn of the loop, and a thousand that leave together end
them in the same turn, so every other request, ``/api/health`` included, would wait for
all of them. With this middleware at most ``turns`` event streams are starting or ending
at any moment; the others wait for a turn, which costs the loop nothing.

Once a stream has started (its headers are sent) it holds no turn: its replay pages take
turns of their own (:class:`convscope.server.streams.EventStreamResponse`).
"""

from __future__ import annotations

import asyncio
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The paths of event streams.
EVENT_STREAMS = re.compile(r"^/api/runs/[^/]+/events$")
#: Event streams starting or ending at once.
TURNS = 16


class StreamTurnsMiddleware:
    """ASGI middleware: requests whose path matches ``paths`` start and end in turns.

    Args:
        app: The application.
        paths: Which requests take turns.
        turns: How many of them may be starting or ending at once.
    """

    def __init__(self, app: ASGIApp, *, paths: re.Pattern[str] = EVENT_STREAMS, turns: int = TURNS):
        self.app = app
        self.paths = paths
        self.count = turns
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turns = asyncio.Semaphore(turns)

    @property
    def turns(self) -> asyncio.Semaphore:
        """The turns of the running event loop (an app may be served by several in turn)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._turns = loop, asyncio.Semaphore(self.count)
        return self._turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.paths.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        turns = self.turns
        holding = False

        def release() -> None:
            nonlocal holding
            if holding:
                holding = False
                turns.release()

        async def starting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()  # started: the headers go out now
            await send(message)

        async def ending_receive() -> Message:
            nonlocal holding
            message = await receive()
            if message["type"] == "http.disconnect" and not holding:
                # The client left: the stream ends, in its turn.
                await turns.acquire()
                holding = True
            return message

        await turns.acquire()
        holding = True
        try:
            await self.app(scope, ending_receive, starting_send)
        finally:
            release()
