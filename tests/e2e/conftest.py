"""Fixtures of the browser tests: the real server on a free port, and headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
# The tests import their helpers as `e2e_helpers` (tests are imported without their
# directory on the path), and Chromium's launch from the bench, which uses it too.
for folder in (str(Path(__file__).resolve().parent), str(ROOT / "bench")):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from e2e_helpers import Api  # noqa: E402 - needs the path above

from chromium import launch  # noqa: E402
from convscope.server.launch import free_port  # noqa: E402

STATIC_INDEX = ROOT / "src" / "convscope" / "server" / "static" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The convscope server, started once, with one worker and an empty store."""
    assert STATIC_INDEX.is_file(), (
        f"{STATIC_INDEX} is missing: build the web app first (make web, or cd web && npm run build)"
    )
    store = tmp_path_factory.mktemp("store")
    port = free_port()
    log_path = store.parent / "server.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "convscope.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--store",
                str(store),
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited: {log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + "/api/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def api(server: str) -> Api:
    return Api(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser: Browser, server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; its screenshot goes to test-artifacts/ when the test fails."""
    # An English browser, whatever the machine's language: the app follows the browser's.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=server, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The server's Content-Security-Policy must let the web app do all it does.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
