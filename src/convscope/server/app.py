"""The FastAPI application: JSON API under /api, live events, the built web app at /.

The server process never imports Keras or TensorFlow: training happens in worker
processes (:mod:`convscope.training.jobs`), and every blocking call (database, array
files, PNG encoding) runs in a thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

import convscope
from convscope.config import Settings
from convscope.inspection.pool import InspectionPool
from convscope.server.cache import LRUCache
from convscope.server.errors import add_exception_handlers
from convscope.server.events import EventHub
from convscope.server.routes import (
    architectures,
    datasets,
    depth,
    events,
    health,
    lenses,
    probe,
    runs,
    snapshots,
)
from convscope.store import Store
from convscope.training.jobs import DEFAULT_TRAINER, WorkerPool, open_store, process_exists

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
        if path:
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
) -> FastAPI:
    """Build the convscope web application.

    Args:
        settings: Store location and worker count; default: from the environment.
        start_workers: Start the training and inspection worker processes with the app
            (off for tests of the API alone: runs then stay queued, lenses answer 503).
        static_dir: The built web app; default: the package's ``server/static``.
        trainer: The function the workers train with, as ``module:function`` (the real
            trainer unless a test or an embedding application substitutes its own).

    Returns:
        The app. Its lifespan marks orphaned runs interrupted, starts the event hub and
        the workers, and on shutdown stops the workers (their runs become interrupted).
    """
    settings = settings or Settings()
    store = open_store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        alive = await anyio.to_thread.run_sync(_live_pids, store)
        marked = await anyio.to_thread.run_sync(store.mark_orphans_interrupted, alive)
        if marked:
            logger.warning("marked %d orphaned runs interrupted: %s", len(marked), marked)
        await app.state.hub.start()
        pool = None
        if start_workers and settings.workers > 0:
            pool = WorkerPool(settings, store, settings.workers, trainer=trainer)
            await anyio.to_thread.run_sync(pool.start)
        app.state.pool = pool
        inspection = None
        if start_workers and settings.inspection_workers > 0:
            inspection = InspectionPool(settings, settings.inspection_workers)
            await anyio.to_thread.run_sync(inspection.start)
        app.state.inspection = inspection
        try:
            yield
        finally:
            await app.state.hub.stop()
            if inspection is not None:
                await anyio.to_thread.run_sync(inspection.stop)
                app.state.inspection = None
            if pool is not None:
                await anyio.to_thread.run_sync(pool.stop)
                app.state.pool = None

    app = FastAPI(
        title="convscope",
        version=convscope.__version__,
        description="Train image classifiers and watch them learn, from the inside.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = EventHub(store)
    app.state.pool = None
    app.state.inspection = None
    app.state.cache = LRUCache()

    add_exception_handlers(app)
    for module in (health, datasets, architectures, runs, events, snapshots, probe, lenses, depth):
        app.include_router(module.router, prefix="/api")
    _add_static(app, static_dir or STATIC_DIR)
    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    store_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> None:
    """Run the server until interrupted (Ctrl-C stops it and its workers).

    Args:
        host: Interface to bind; the default keeps the server local to this machine.
        port: TCP port.
        store_dir: Store directory; default: ``$CONVSCOPE_STORE`` or ``~/.convscope``.
        workers: Training worker processes; default: ``$CONVSCOPE_WORKERS`` or 1.
    """
    import uvicorn

    settings = Settings()
    if store_dir is not None:
        settings = dataclasses.replace(settings, store_dir=Path(store_dir).expanduser())
    if workers is not None:
        settings = dataclasses.replace(settings, workers=workers)
    app = create_app(settings)
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
    # Event streams never end by themselves: close them when a shutdown starts, or the
    # server would wait for every open browser tab.
    app.state.hub.should_close = lambda: server.should_exit
    print(f"convscope {convscope.__version__}: http://{host}:{port}  (store: {settings.store_dir})")
    # uvicorn re-raises the Ctrl-C it handled once the shutdown is complete; as
    # `uvicorn.run` does, end quietly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
