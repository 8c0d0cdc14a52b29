"""Dependencies the routes take from the app: the store, the event hub, the workers.

They are coroutines, though they do not wait for anything: FastAPI runs plain functions
in its thread pool, and a request must not queue behind busy threads only to read an
attribute of the app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from convscope.config import Settings
from convscope.server.cache import LRUCache
from convscope.server.events import EventHub
from convscope.store import Store
from convscope.training.jobs import WorkerPool


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    """The app's store."""
    return request.app.state.store


async def get_hub(request: Request) -> EventHub:
    """The app's event hub."""
    return request.app.state.hub


async def get_pool(request: Request) -> WorkerPool | None:
    """The app's worker pool, or None when the app runs without workers."""
    return request.app.state.pool


async def get_cache(request: Request) -> LRUCache:
    """A per-app cache of values computed from immutable snapshot files."""
    return request.app.state.cache


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[EventHub, Depends(get_hub)]
PoolDep = Annotated[WorkerPool | None, Depends(get_pool)]
CacheDep = Annotated[LRUCache, Depends(get_cache)]
