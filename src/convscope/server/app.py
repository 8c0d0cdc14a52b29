"""The FastAPI application: JSON API under /api, live events, the built web app at /.

The server process never imports Keras or TensorFlow: training happens in worker
processes (:mod:`convscope.training.jobs`), and every blocking call (database, array
files, PNG encoding) runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

import convscope
from convscope.config import Settings, is_loopback
from convscope.datasets.uploaded import use_directory
from convscope.inspection.inspector import make_inspector
from convscope.server.cache import LRUCache
from convscope.server.collector import FullCollections
from convscope.server.errors import add_exception_handlers
from convscope.server.events import EventHub
from convscope.server.limits import BodyLimitMiddleware
from convscope.server.openapi_links import add_links
from convscope.server.routes import (
    architectures,
    datasets,
    depth,
    events,
    health,
    lenses,
    models,
    probe,
    questions,
    runs,
    snapshots,
    sweeps,
    uploads,
)
from convscope.server.security import TOKEN_QUERY, SecurityMiddleware
from convscope.server.turns import StreamTurnsMiddleware
from convscope.store import Store
from convscope.training.executor import check_executor_kind
from convscope.training.executors import make_executor
from convscope.training.jobs import (
    DEFAULT_TRAINER,
    WorkerPool,
    open_store,
    process_exists,
)
from convscope.training.sweep import EarlyStopper

logger = logging.getLogger(__name__)

#: Where ``make web`` puts the built front end.
STATIC_DIR = Path(__file__).parent / "static"
_IMMUTABLE = "public, max-age=31536000, immutable"

_MISSING_WEB_APP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>convscope</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>convscope</h1>
<p>The API is running (see <a href="/docs">/docs</a>), but the web app is not built.</p>
<p>Build it with <code>make web</code> in the convscope source tree, then reload.</p>
</body></html>
"""


def _live_pids(store: Store) -> set[int]:
    # Runs trained by other live processes (a notebook, `convscope train`) keep running.
    return {
        run.worker_pid
        for run in store.list_runs()
        if run.status == "running" and run.worker_pid is not None and process_exists(run.worker_pid)
    }


def _add_static(app: FastAPI, static_dir: Path) -> None:
    root = static_dir.resolve()
    index = root / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    def web_app(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            return JSONResponse({"detail": f"no API route /{path}"}, status_code=404)
        if not index.is_file():
            return HTMLResponse(_MISSING_WEB_APP)
        if path and "\x00" not in path:
            candidate = (root / path).resolve()
            # Never serve anything outside the static directory ("../" in the path).
            if candidate.is_relative_to(root) and candidate.is_file():
                # Vite names the files under assets/ by content hash: they never change.
                hashed = candidate.relative_to(root).parts[0] == "assets"
                headers = {"Cache-Control": _IMMUTABLE} if hashed else None
                return FileResponse(candidate, headers=headers)
        # Client-side routes of the single-page app all load index.html.
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def create_app(
    settings: Settings | None = None,
    *,
    start_workers: bool = True,
    static_dir: Path | None = None,
    trainer: str = DEFAULT_TRAINER,
    ray_init_options: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the convscope web application.

    Args:
        settings: Store location and worker count; default: from the environment.
        start_workers: Start the training and inspection worker processes with the app
            (off for tests of the API alone: runs then stay queued, lenses answer 503).
        static_dir: The built web app; default: the package's ``server/static``.
        trainer: The function the workers train with, as ``module:function`` (the real
            trainer unless a test or an embedding application substitutes its own).
        ray_init_options: More keyword arguments for ``ray.init`` (``executor="ray"``: runs
            train as Ray tasks, lenses run in Ray actors).

    Returns:
        The app. Its lifespan marks orphaned runs interrupted, compacts the events of
        finished runs, starts the event hub and the workers, and on shutdown stops the
        workers (their runs become interrupted).
    """
    settings = settings or Settings()
    store = open_store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        alive = await anyio.to_thread.run_sync(_live_pids, store)
        marked = await anyio.to_thread.run_sync(store.mark_orphans_interrupted, alive)
        if marked:
            logger.warning("marked %d orphaned runs interrupted: %s", len(marked), marked)
        await anyio.to_thread.run_sync(store.compact_finished_events)
        await app.state.hub.start()
        executor = None
        if start_workers and settings.workers > 0:
            executor = make_executor(
                settings, store, trainer=trainer, ray_init_options=ray_init_options
            )
            await anyio.to_thread.run_sync(executor.start)
        app.state.executor = executor
        app.state.pool = executor if isinstance(executor, WorkerPool) else None
        # Sweeps stop their hopeless runs whoever trains them: this server's executor or
        # another process on the same store.
        stopper = EarlyStopper(store, executor.cancel if executor is not None else None)
        stopper.start()
        inspection = None
        if start_workers:
            # Local worker processes, or Ray actors with the Ray executor.
            inspection = make_inspector(settings, ray_init_options=ray_init_options)
        if inspection is not None:
            await anyio.to_thread.run_sync(inspection.start)
        app.state.inspection = inspection
        collections = app.state.full_collections
        collecting = None
        if collections is not None:
            collections.take_over()
            collecting = asyncio.create_task(collections.run(), name="convscope-gc")
        try:
            yield
        finally:
            if collecting is not None:
                collecting.cancel()
            await anyio.to_thread.run_sync(stopper.stop)
            await app.state.hub.stop()
            if inspection is not None:
                await anyio.to_thread.run_sync(inspection.stop)
                app.state.inspection = None
            if executor is not None:
                await anyio.to_thread.run_sync(executor.stop)
                app.state.executor = app.state.pool = None

    app = FastAPI(
        title="convscope",
        version=convscope.__version__,
        description="Train image classifiers and watch them learn, from the inside.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = EventHub(
        store,
        max_connections=settings.sse_max_connections,
        max_per_run=settings.sse_max_per_run,
    )
    app.state.executor = None
    app.state.pool = None  # the executor when it is the local WorkerPool
    app.state.inspection = None
    app.state.cache = LRUCache()
    # Set by `serve`, whose process is the server's alone (see convscope.server.collector).
    app.state.full_collections = None

    add_exception_handlers(app)
    # The last added is the outermost: event streams wait for their turn before all else,
    # then the host and origin checks come first.
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.add_middleware(StreamTurnsMiddleware)
    # The datasets users uploaded to this store are listed and trained like the others.
    use_directory(store.datasets_dir)
    routers = (health, datasets, architectures, runs, events, snapshots, probe, lenses)
    for module in (*routers, depth, sweeps, uploads, models, questions):
        app.include_router(module.router, prefix="/api")
    _add_links(app)
    _add_static(app, static_dir or STATIC_DIR)
    return app


def _add_links(app: FastAPI) -> None:
    # The OpenAPI document says which answers give the ids that other operations take.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    store_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    database_url: str | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
    *,
    no_auth: bool = False,
) -> None:
    """Run the server until interrupted (Ctrl-C stops it and its workers).

    A ``host`` other than loopback makes the server reachable from other machines: it
    then requires an access token, generated here and printed in the address to open,
    unless ``no_auth`` is set.

    Args:
        host: Interface to bind; the default keeps the server local to this machine.
        port: TCP port.
        store_dir: Store directory; default: ``$CONVSCOPE_STORE`` or ``~/.convscope``.
        workers: Training worker processes; default: ``$CONVSCOPE_WORKERS`` or 1.
        database_url: Database URL; default: ``$CONVSCOPE_DB``, else SQLite in the store.
        executor: "local" (worker processes) or "ray"; default ``$CONVSCOPE_EXECUTOR``.
        ray_address: Ray cluster address; default: a local Ray instance.
        no_auth: Serve a non-loopback ``host`` without a token (anyone who can reach the
            port can train, cancel and delete runs).
    """
    import uvicorn

    settings = Settings()
    if store_dir is not None:
        settings = dataclasses.replace(settings, store_dir=Path(store_dir).expanduser())
    if workers is not None:
        settings = dataclasses.replace(settings, workers=workers)
    if database_url is not None:
        settings = dataclasses.replace(settings, database_url=database_url)
    if executor is not None:
        settings = dataclasses.replace(settings, executor=check_executor_kind(executor))
    if ray_address is not None:
        settings = dataclasses.replace(settings, ray_address=ray_address)
    token = None
    if not is_loopback(host):
        # Reached under any name (its addresses, its DNS names): the token protects it.
        settings = dataclasses.replace(settings, allowed_hosts=("*",))
        if not no_auth:
            token = secrets.token_urlsafe(24)
            settings = dataclasses.replace(settings, auth_token=token)
    _raise_open_file_limit(settings.sse_max_connections + 256)
    app = create_app(settings)
    app.state.full_collections = FullCollections()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info",
            # A request still running after this long is cancelled, so that the workers
            # are always stopped by the app's shutdown.
            timeout_graceful_shutdown=10,
        )
    )
    # Live event streams do not end by themselves: close them when a shutdown starts, or the
    # server would wait for every open browser tab.
    app.state.hub.should_close = lambda: server.should_exit
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/"
    if token is not None:
        address += f"?{TOKEN_QUERY}={token}"
    where = f"store: {settings.store_dir}"
    if settings.database_url:
        where += f", database: {app.state.store}"
    if settings.executor != "local":
        where += f", executor: {settings.executor}"
    print(f"convscope {convscope.__version__}: {address}  ({where})")
    if token is not None:
        print("  reachable from other machines: open the address above, with its token")
    elif not is_loopback(host):
        print(
            "  WARNING: --no-auth: anyone who can reach this port can train, cancel and "
            "delete runs",
            file=sys.stderr,
        )
    # uvicorn re-raises the Ctrl-C it handled once the shutdown is complete; as
    # `uvicorn.run` does, end quietly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


def _raise_open_file_limit(wanted: int) -> None:
    # Every event stream holds a socket: let the process open as many as the limits allow.
    try:
        import resource
    except ImportError:  # not on Windows
        return
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
