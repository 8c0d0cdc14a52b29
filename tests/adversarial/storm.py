"""An SSE storm: many clients replaying a run's events over and over, some never reading,
while another client times ``/api/health``.

Used small by ``test_storms.py`` and at full size by ``bench/adversarial.py``. The clients
are raw asyncio sockets that only split lines, so that a thousand of them cost the
machine little beside the server they measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import statistics
import time
from dataclasses import dataclass, field
from typing import Any
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


_TOKEN = b"\nid: "


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
        # Counted in C, not parsed line by line: the client must cost little beside the
        # server. Ids only grow, so the right count and the right last id prove the replay.
        seen = 0
        tail = b""
        last = expected[-1]
        ending = f"\nid: {last}\n".encode()
        while seen < len(expected):
            data = await reader.read(262144)
            if not data:
                break
            window = tail + data
            seen += window.count(_TOKEN)
            tail = window[-(len(_TOKEN) - 1) :]
            if seen >= len(expected) and ending not in window[-(len(ending) + 4096) :]:
                seen = -1  # the last event is not the expected one
                break
        if seen == len(expected):
            result.complete += 1
        else:
            result.incomplete.append(seen)
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


def _probe(url: str, interval: float, ready: Any, stop: Any, results: Any) -> None:
    latencies: list[float] = []
    failures: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/api/health")  # connected and warm before the storm starts
        ready.set()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                status = client.get("/api/health").status_code
            except httpx.HTTPError as error:
                failures.append(f"{type(error).__name__}: {error}")
            else:
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    failures.append(f"status {status}")
            stop.wait(interval)
    results.send((latencies, failures))


class HealthProbe:
    """Times ``GET /api/health`` every ``interval`` seconds until stopped.

    It runs in a process of its own, so that the storm's clients, in this process, do not
    delay it: what it measures is the server.
    """

    def __init__(self, url: str, interval: float = 0.02) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._stop = context.Event()
        self._results, sending = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_probe, args=(url, interval, self._ready, self._stop, sending), daemon=True
        )
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def __enter__(self) -> HealthProbe:
        self._process.start()
        if not self._ready.wait(60):
            raise TimeoutError("the health probe did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.latencies, self.failures = self._results.recv()
        self._process.join()

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in seconds."""
        if len(self.latencies) < 2:
            return max(self.latencies, default=float("nan"))
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]
