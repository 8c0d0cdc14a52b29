"""Headless Chromium for the browser tests, the browser bench and the screenshots.

Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``: nothing
is downloaded at run time), with the flags that keep it quiet and offline.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Playwright) -> Browser:
    """Start headless Chromium with the flags above."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
