"""An SSE storm: many clients replaying a run's events over and over, some never reading,
while another client times ``/api/health``.

Used small by ``test_storms.py`` and at full size by ``bench/adversarial.py``. The clients
are raw asyncio sockets that only split lines, so that a thousand of them cost the
machine little beside the server they measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from convscope.store import Store


def seed_events(store: Store, run_id: str, count: int) -> list[int]:
    """Add ``count`` progress events, each with a few batch rows, as a notebook run does."""
    ids = []
    for step in range(count):
        rows = [[step * 4 + i, step / 100, 1.0 / (1 + step), 0.5] for i in range(4)]
        payload = {"epoch": 0, "step": step, "steps_per_epoch": count, "epochs": 1, "batches": rows}
        ids.append(store.add_event(run_id, "progress", payload))
    return ids


@dataclass
class StormResult:
    """What the clients saw.

    Attributes:
        complete: Replays that delivered every expected event once, in order.
        incomplete: Replays that delivered anything else (the ids they ended with).
        refused: Connections refused with 503 (a cap on streams).
        errors: Connections that failed otherwise.
    """

    complete: int = 0
    incomplete: list[int] = field(default_factory=list)
    refused: int = 0
    errors: list[str] = field(default_factory=list)


async def _request(
    host: str, port: int, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def _replay_once(
    host: str, port: int, path: str, expected: list[int], result: StormResult
) -> None:
    reader, writer = await _request(host, port, path)
    try:
        status = await reader.readline()
        if b" 503 " in status:
            result.refused += 1
            return
        if b" 200 " not in status:
            result.errors.append(status.decode(errors="replace").strip())
            return
        ids: list[int] = []
        pending = b""
        while len(ids) < len(expected):
            data = await reader.read(65536)
            if not data:
                break
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
            ids.extend(int(line[4:]) for line in lines if line.startswith(b"id: "))
        if ids == expected:
            result.complete += 1
        else:
            result.incomplete.append(len(ids))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _reader(
    host: str, port: int, path: str, expected: list[int], rounds: int, result: StormResult
) -> None:
    for _ in range(rounds):
        try:
            await _replay_once(host, port, path, expected, result)
        except OSError as error:
            result.errors.append(f"{type(error).__name__}: {error}")


async def _idle(host: str, port: int, path: str, stop: asyncio.Event) -> None:
    # Opens the stream and never reads it: the server must not wait for this client.
    with contextlib.suppress(OSError):
        _, writer = await _request(host, port, path)
        await stop.wait()
        writer.close()


async def run_storm(
    url: str, run_id: str, expected: list[int], *, readers: int, rounds: int, idle: int
) -> StormResult:
    """``readers`` clients each replay the run's events ``rounds`` times from the start,
    while ``idle`` clients hold a stream open without reading.

    Returns:
        What the reading clients received.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = f"/api/runs/{run_id}/events"
    result = StormResult()
    stop = asyncio.Event()
    idlers = [asyncio.create_task(_idle(host, port, path, stop)) for _ in range(idle)]
    await asyncio.sleep(0.2)
    await asyncio.gather(
        *(_reader(host, port, path, expected, rounds, result) for _ in range(readers))
    )
    stop.set()
    await asyncio.gather(*idlers)
    return result


class HealthProbe:
    """Times ``GET /api/health`` every ``interval`` seconds in a thread until stopped."""

    def __init__(self, url: str, interval: float = 0.02) -> None:
        self.url = url
        self.interval = interval
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-probe", daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    status = client.get("/api/health").status_code
                except httpx.HTTPError as error:
                    self.failures.append(f"{type(error).__name__}: {error}")
                else:
                    self.latencies.append(time.perf_counter() - started)
                    if status != 200:
                        self.failures.append(f"status {status}")
                self._stop.wait(self.interval)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in seconds."""
        if len(self.latencies) < 2:
            return max(self.latencies, default=float("nan"))
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]
