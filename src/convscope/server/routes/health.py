"""GET /api/health: liveness and the number of live worker processes."""

from __future__ import annotations

from fastapi import APIRouter

import convscope
from convscope.server.deps import ExecutorDep
from convscope.server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(executor: ExecutorDep) -> Health:
    """The server is up; ``workers`` counts the runs that can train at once now."""
    return Health(
        version=convscope.__version__,
        workers=executor.slots() if executor else 0,
        executor=executor.kind if executor else None,
    )
