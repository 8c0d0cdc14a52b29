"""Helpers of the browser tests."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any


class Api:
    """A tiny JSON client of the server under test, for setting up and checking runs."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def create_run(self, **config: Any) -> dict[str, Any]:
        return self.request("POST", "/api/runs", config)

    def run(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/runs/{run_id}")

    def wait_until(self, run_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in statuses:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} is {run['status']}, not in {statuses}")
            time.sleep(0.3)
