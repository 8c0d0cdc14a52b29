"""The web app in a frame: a notebook page on this machine shows it (``convscope.show()``);
a page served from another address cannot frame it (clickjacking)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e


@contextmanager
def page_framing(app_url: str, host: str) -> Iterator[int]:
    """A page that shows the app in a frame, served on ``host``; yields its port."""
    body = f'<!doctype html><iframe id="view" src="{app_url}/#/runs" width="900" height="600">'

    class Notebook(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(f"{body}</iframe>".encode())

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer((host, 0), Notebook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_a_notebook_on_this_machine_frames_the_app(page: Page, server: str) -> None:
    with page_framing(server, "127.0.0.1") as port:
        page.goto(f"http://localhost:{port}/")
        expect(page.frame_locator("#view").locator("#app > *").first).to_be_attached()


def test_a_page_from_another_address_cannot_frame_the_app(browser: Browser, server: str) -> None:
    # 127.0.0.2 is this machine too, but not a name the app lets frame it.
    context = browser.new_context()
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    try:
        with page_framing(server, "127.0.0.2") as port:
            page.goto(f"http://127.0.0.2:{port}/")
            page.wait_for_timeout(1500)
            assert page.frame_locator("#view").locator("#app").count() == 0
            assert any("frame-ancestors" in text for text in messages), messages
    finally:
        context.close()
