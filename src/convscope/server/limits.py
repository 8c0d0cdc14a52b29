"""The request-body limit: every body is counted as it arrives, multipart uploads included.

A body larger than ``Settings.max_request_bytes`` is refused with 413 before the route
reads it: at once when ``Content-Length`` says so, else as soon as the bytes received go
past the limit, so that no route ever holds more than the limit in memory. Only routes
marked with :func:`accepts_uploads` take ``multipart/form-data`` bodies up to
``Settings.max_upload_bytes`` (plus the multipart framing); every other route keeps the
small limit whatever the body claims to be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convscope.config import Settings

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
#: Room for a multipart body's framing and small form fields beyond its file: a file just
#: over ``max_upload_bytes`` is then refused by the route, which names the file.
MULTIPART_OVERHEAD = 64 * 1024
_UPLOAD_MARK = "__convscope_accepts_uploads__"


def accepts_uploads(endpoint: Endpoint) -> Endpoint:
    """Mark a route's function as taking uploads: ``multipart/form-data`` bodies up to
    ``Settings.max_upload_bytes`` (other bodies keep ``max_request_bytes``).

    Use it under the route decorator::

        @router.post("/uploads/images")
        @accepts_uploads
        async def upload_image(file: UploadFile) -> ...: ...
    """
    setattr(endpoint, _UPLOAD_MARK, True)
    return endpoint


def too_large_detail(limit: str, maximum: int, received: int | None = None) -> list[dict]:
    """The 422-style detail of a 413 answer, naming the limit."""
    size = f"{received} bytes" if received is not None else "more bytes than allowed"
    return [
        {
            "loc": ["body"],
            "msg": f"the request body has {size} (limit {limit} = {maximum:,})",
            "type": "limit_exceeded",
            "limit": limit,
            "maximum": maximum,
        }
    ]


class BodyTooLarge(HTTPException):
    """Raised while a body is being received, once it goes past its limit (HTTP 413).

    An ``HTTPException``, so that FastAPI's body parsing passes it on unchanged.
    """

    def __init__(self, limit: str, maximum: int) -> None:
        super().__init__(status_code=413)
        # A list, like every other refusal's detail (Starlette types it as text).
        self.detail = too_large_detail(limit, maximum)  # type: ignore[assignment]


class BodyLimitMiddleware:
    """ASGI middleware that enforces the body limits of ``settings``.

    Args:
        app: The application.
        settings: Where ``max_request_bytes`` and ``max_upload_bytes`` come from.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_request_bytes = settings.max_request_bytes
        self.max_upload_bytes = settings.max_upload_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        # Before routing, a multipart body may be an upload: the larger limit for now.
        limit, maximum = self._limit(multipart, upload=multipart)
        declared_text = headers.get(b"content-length", b"").strip()
        declared = int(declared_text) if declared_text.isdigit() else None
        if declared is not None and declared > maximum:
            response = JSONResponse(
                {"detail": too_large_detail(limit, maximum, declared)}, status_code=413
            )
            await response(scope, receive, send)
            return
        received = 0
        routed = False

        async def counted() -> Message:
            nonlocal received, routed, limit, maximum
            if not routed:
                # The route reads the body: the router has named its endpoint by now.
                routed = True
                limit, maximum = self._limit(multipart, upload=_takes_uploads(scope))
                if declared is not None and declared > maximum:
                    raise BodyTooLarge(limit, maximum)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > maximum:
                    raise BodyTooLarge(limit, maximum)
            return message

        await self.app(scope, counted, send)

    def _limit(self, multipart: bool, *, upload: bool) -> tuple[str, int]:
        if multipart and upload:
            return "max_upload_bytes", self.max_upload_bytes
        return "max_request_bytes", self.max_request_bytes


def _takes_uploads(scope: Scope) -> bool:
    return bool(getattr(scope.get("endpoint"), _UPLOAD_MARK, False))
