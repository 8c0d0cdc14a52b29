"""``convscope serve --host`` beyond loopback: a token, printed at start, unless --no-auth."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from server_helpers import free_port, wait_for


@contextmanager
def serving(tmp_path: Path, *extra: str) -> Iterator[tuple[str, Path]]:
    """``python -m convscope.server`` without workers; yields its URL and its log."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    command = [sys.executable, "-m", "convscope.server", "--port", str(port), "--workers", "0"]
    command += ["--store", str(tmp_path / "store"), *extra]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, log_path.read_text()
            try:
                httpx.get(f"{url}/api/health", timeout=2)
            except httpx.TransportError:
                return False
            return True

        wait_for(up, timeout=60, what="the server")
        yield url, log_path
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_server_reachable_from_other_machines_needs_its_printed_token(tmp_path: Path) -> None:
    with serving(tmp_path, "--host", "0.0.0.0") as (url, log_path):
        printed = re.search(r"http://0\.0\.0\.0:\d+/\?token=([\w-]+)", log_path.read_text())
        assert printed, log_path.read_text()
        token = printed.group(1)
        assert len(token) >= 24
        assert httpx.get(f"{url}/api/health").status_code == 401
        health = httpx.get(f"{url}/api/health", headers={"Authorization": f"Bearer {token}"})
        assert health.status_code == 200
        # Opened in a browser, the address with the token leaves a cookie behind.
        with httpx.Client(base_url=url, follow_redirects=True) as browser:
            opened = browser.get(f"/?token={token}")
            assert opened.status_code == 200 and opened.url.query == b""
            assert browser.get("/api/runs").status_code == 200


def test_no_auth_is_explicit_and_warned_about(tmp_path: Path) -> None:
    with serving(tmp_path, "--host", "0.0.0.0", "--no-auth") as (url, log_path):
        assert httpx.get(f"{url}/api/health").status_code == 200
        assert httpx.get(f"{url}/api/health", headers={"host": "lab.example"}).status_code == 200
        assert "WARNING: --no-auth" in log_path.read_text()
        assert "token=" not in log_path.read_text()


def test_a_loopback_server_needs_no_token_but_knows_its_names(tmp_path: Path) -> None:
    with serving(tmp_path) as (url, log_path):
        assert httpx.get(f"{url}/api/health").status_code == 200
        rebound = httpx.get(f"{url}/api/health", headers={"host": "attacker.example"})
        assert rebound.status_code == 400
        assert "token=" not in log_path.read_text()
