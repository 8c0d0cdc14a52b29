"""GET /api/runs/{id}/events: a run's events as Server-Sent Events, resumable."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from convscope.server.deps import HubDep, StoreDep
from convscope.server.events import event_stream, parse_last_event_id

router = APIRouter(tags=["events"])


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "status, progress, snapshot"},
        404: {"description": "No run with this id"},
    },
)
async def run_events(
    run_id: str,
    request: Request,
    store: StoreDep,
    hub: HubDep,
    last_event_id: str | None = Query(
        default=None, description="Resume after this event id (the Last-Event-ID header wins)"
    ),
) -> StreamingResponse:
    """Stream the run's events: the stored ones after ``Last-Event-ID``, then live ones."""
    await anyio.to_thread.run_sync(store.get_run, run_id)
    resume = parse_last_event_id(request.headers.get("last-event-id"), last_event_id)
    return StreamingResponse(
        event_stream(hub, run_id, resume, is_disconnected=request.is_disconnected),
        media_type="text/event-stream",
        # No caching, and no buffering by a reverse proxy: events must arrive at once.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
