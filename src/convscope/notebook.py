"""A run's views inside a notebook: ``convscope.show()``.

    rec = convscope.Recorder(store="./runs", probe=(x_test, y_test))
    model.fit(x_train, y_train, epochs=3, callbacks=[rec])
    convscope.show(store="./runs")          # the last run, its training view inline

``show`` starts a convscope server for the store in the background if none runs (as
``%tensorboard`` does), then returns an object that notebook front ends display as the
web app's view of the run, in a frame. The server keeps running after the kernel stops, so
a later ``show`` (or a restarted kernel) finds it again; its address is recorded in the
store directory.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from convscope.errors import ConvscopeError, NotFound
from convscope.server.launch import (
    LOOPBACK,
    free_port,
    get_json,
    process_alive,
    start_detached_server,
    wait_until_healthy,
)
from convscope.store import Store, atomic_write_bytes

#: The store-directory file that records the server ``show`` started for that store.
SERVER_RECORD = "notebook-server.json"
#: The server's output, beside the record.
SERVER_LOG = "notebook-server.log"
START_TIMEOUT_S = 90.0
TABS = ("training", "layers", "explain", "depth")


@dataclass(frozen=True)
class RunView:
    """A run's view in the convscope web app; notebooks display it in a frame.

    Attributes:
        url: The address of the view (open it in a browser tab as well).
        run_id: The run shown.
        height: Height of the frame in pixels.
    """

    url: str
    run_id: str
    height: int = 820

    def _repr_html_(self) -> str:
        src = html.escape(self.url, quote=True)
        return (
            f'<iframe src="{src}" width="100%" height="{int(self.height)}" '
            'style="border: 1px solid #e2e8f0; border-radius: 8px" '
            f'title="convscope: run {html.escape(self.run_id)}"></iframe>'
            f'<p style="font-size: 12px"><a href="{src}" target="_blank" rel="noopener">'
            "Open this view in a new tab</a></p>"
        )

    def __repr__(self) -> str:
        return f"convscope run {self.run_id}: {self.url}"


def show(
    run_id: str | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    *,
    tab: str = "training",
    height: int = 820,
) -> RunView:
    """Show a run's view of the convscope web app, inline in a notebook.

    Args:
        run_id: The run; by default the store's newest run.
        store: The store (a directory, or an open :class:`Store`); default
            ``$CONVSCOPE_STORE`` or ``~/.convscope``.
        tab: Which view: ``"training"``, ``"layers"``, ``"explain"`` or ``"depth"``.
        height: Height of the frame, in pixels.

    Returns:
        A :class:`RunView`: notebooks render it as the view; its ``url`` opens anywhere.

    Raises:
        NotFound: No such run, or the store holds none.
        InvalidInput: Unknown ``tab``.
        ConvscopeError: The server could not be started (the message says why).
    """
    from convscope.errors import InvalidInput

    if tab not in TABS:
        raise InvalidInput("tab", f"unknown view {tab!r}", choices=TABS)
    opened = store if isinstance(store, Store) else Store(store)
    try:
        if run_id is None:
            runs = opened.list_runs()
            if not runs:
                raise NotFound(f"the store {opened.root} holds no run yet")
            run_id = runs[0].id
        opened.get_run(run_id)
        base = ensure_server(opened.root)
    finally:
        if not isinstance(store, Store):
            opened.close()
    path = f"#/runs/{run_id}" + ("" if tab == "training" else f"/{tab}")
    return RunView(f"{base}/{path}", run_id, height)


def ensure_server(store_dir: Path) -> str:
    """The address of a convscope server for ``store_dir``, started if none answers.

    Returns:
        ``http://127.0.0.1:<port>``.

    Raises:
        ConvscopeError: The server did not start; its log is in the store directory.
    """
    record = store_dir / SERVER_RECORD
    known = _recorded_server(record)
    if known is not None:
        return known
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    pid = start_detached_server(store_dir, port=port, log=store_dir / SERVER_LOG)
    try:
        wait_until_healthy(base, timeout=START_TIMEOUT_S, alive=lambda: process_alive(pid))
    except RuntimeError as error:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        raise ConvscopeError(f"{error}; see {store_dir / SERVER_LOG}") from None
    atomic_write_bytes(record, json.dumps({"pid": pid, "url": base}).encode())
    return base


def _recorded_server(record: Path) -> str | None:
    try:
        known = json.loads(record.read_text())
        pid, url = int(known["pid"]), str(known["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process_alive(pid):
        return None
    with contextlib.suppress(OSError, ValueError):
        if get_json(f"{url}/api/health", timeout=2).get("status") == "ok":
            return url
    return None
