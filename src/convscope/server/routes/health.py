"""GET /api/health: liveness and the number of live worker processes."""

from __future__ import annotations

from fastapi import APIRouter

import convscope
from convscope.server.deps import ExecutorDep
from convscope.server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(executor: ExecutorDep) -> Health:
    """The server is up; ``workers`` counts the runs that can train at once now."""
    # On the event loop, not in a thread: it must answer even when every thread is busy.
    return Health(
        version=convscope.__version__,
        workers=executor.slots() if executor else 0,
        executor=executor.kind if executor else None,
    )
