"""Dependencies the routes take from the app: the store, the event hub, the executor.

They are coroutines, though they do not wait for anything: FastAPI runs plain functions
in its thread pool, and a request must not queue behind busy threads only to read an
attribute of the app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from convscope.config import Settings
from convscope.inspection.inspector import Inspector
from convscope.server.cache import LRUCache
from convscope.server.events import EventHub
from convscope.store import Store
from convscope.training.executor import Executor


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    """The app's store."""
    return request.app.state.store


async def get_hub(request: Request) -> EventHub:
    """The app's event hub."""
    return request.app.state.hub


async def get_executor(request: Request) -> Executor | None:
    """The app's executor, or None when the app runs without one (runs stay queued)."""
    return request.app.state.executor


async def get_inspection(request: Request) -> Inspector | None:
    """The app's inspection workers (local processes or Ray actors), or None without them."""
    return request.app.state.inspection


async def get_cache(request: Request) -> LRUCache:
    """A per-app cache of values computed from immutable snapshot files."""
    return request.app.state.cache


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[EventHub, Depends(get_hub)]
ExecutorDep = Annotated[Executor | None, Depends(get_executor)]
CacheDep = Annotated[LRUCache, Depends(get_cache)]
InspectionDep = Annotated[Inspector | None, Depends(get_inspection)]
