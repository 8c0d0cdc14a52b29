"""``convscope.show()``: a run's view in a notebook, with the server it starts in the background."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import convscope
from convscope.errors import InvalidInput, NotFound
from convscope.notebook import SERVER_RECORD, RunView


def stop_recorded_server(store_dir: Path) -> None:
    record = store_dir / SERVER_RECORD
    if record.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(json.loads(record.read_text())["pid"], signal.SIGTERM)
        record.unlink()


@pytest.fixture(scope="module")
def store_dir(trained_run):
    yield trained_run.store_dir
    stop_recorded_server(trained_run.store_dir)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_show_starts_one_server_per_store_and_embeds_the_run(store_dir, trained_run) -> None:
    view = convscope.show(store=store_dir)
    assert isinstance(view, RunView)
    assert view.run_id == trained_run.run_id
    base, _, fragment = view.url.partition("/#")
    assert fragment == f"/runs/{trained_run.run_id}"
    run = json.loads(fetch(f"{base}/api/runs/{trained_run.run_id}"))
    assert run["status"] == "done"
    html = view._repr_html_()
    assert f'src="{view.url}"' in html and "<iframe" in html
    # A second call, and a call for another view, find the same server.
    again = convscope.show(trained_run.run_id, store=store_dir, tab="layers")
    assert again.url == f"{base}/#/runs/{trained_run.run_id}/layers"


def test_a_stopped_server_is_started_again(store_dir) -> None:
    first = convscope.show(store=store_dir).url
    stop_recorded_server(store_dir)
    second = convscope.show(store=store_dir).url
    assert second != first
    assert json.loads(fetch(second.partition("/#")[0] + "/api/health"))["status"] == "ok"


def test_unknown_run_or_view_is_refused(store_dir, tmp_path) -> None:
    with pytest.raises(NotFound):
        convscope.show("0123456789ab", store=store_dir)
    with pytest.raises(NotFound, match="no run yet"):
        convscope.show(store=tmp_path / "empty")
    with pytest.raises(InvalidInput) as caught:
        convscope.show(store=store_dir, tab="charts")
    assert caught.value.field == "tab"


def test_show_in_a_real_jupyter_kernel(store_dir, trained_run) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import convscope"),
        nbformat.v4.new_code_cell(f"convscope.show(store={str(store_dir)!r})"),
    ]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3")
    client.execute(cwd=str(store_dir))
    outputs = notebook.cells[1].outputs
    assert len(outputs) == 1 and outputs[0]["output_type"] == "execute_result", outputs
    rendered = outputs[0]["data"]["text/html"]
    assert "<iframe" in rendered and f"#/runs/{trained_run.run_id}" in rendered
    assert f"convscope run {trained_run.run_id}" in outputs[0]["data"]["text/plain"]
