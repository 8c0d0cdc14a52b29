"""GET /api/runs/{id}/events: a run's events as Server-Sent Events, resumable."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from convscope.server.deps import HubDep, SettingsDep
from convscope.server.events import TooManyStreams
from convscope.server.streams import EventStreamResponse, event_stream, parse_last_event_id

router = APIRouter(tags=["events"])

#: Seconds a client refused for too many streams is told to wait before retrying.
RETRY_AFTER_S = 5


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "status, progress, snapshot"},
        204: {"description": "The run has finished and the client has every event"},
        404: {"description": "No run with this id"},
        503: {"description": "Too many open event streams; retry after Retry-After seconds"},
    },
)
async def run_events(
    run_id: str,
    request: Request,
    hub: HubDep,
    settings: SettingsDep,
    last_event_id: str | None = Query(
        default=None,
        max_length=64,
        description="Resume after this event id (the Last-Event-ID header wins)",
    ),
) -> Response:
    """Stream the run's events: the stored ones after ``Last-Event-ID``, then live ones.

    The stream ends after the run's last event; a client that has every event of a
    finished run gets 204 (an ``EventSource`` then stops reconnecting).
    """
    resume = parse_last_event_id(request.headers.get("last-event-id"), last_event_id)
    finished, nothing_left = await hub.run_state(run_id, resume)
    if nothing_left:
        return Response(status_code=204)
    try:
        subscription = hub.subscribe(run_id)
    except TooManyStreams as error:
        detail = [
            {
                "loc": ["path", "run_id"],
                "msg": str(error),
                "type": "limit_exceeded",
                "limit": error.limit,
                "maximum": error.maximum,
            }
        ]
        return JSONResponse(
            {"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
        )
    stream = event_stream(
        hub,
        run_id,
        resume,
        finished=finished,
        subscription=subscription,
        is_disconnected=request.is_disconnected,
    )
    return EventStreamResponse(
        stream, hub=hub, subscription=subscription, send_timeout=settings.sse_send_timeout_s
    )
