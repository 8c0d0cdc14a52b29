"""The adversarial suite at full size, with the figures it must reach.

1. ``storm``: 1,000 SSE clients replaying a run of 2,200 events three times over while 50
   clients open its stream and never read: ``/api/health`` p99 (goal < 100 ms), the
   server's peak memory (goal < 300 MB), and whether every reading client got every event.
2. ``body``: a 50 MB body, announced and then chunked, refused (goal < 50 ms).
3. ``files``: every hostile file of the corpus refused (goal < 1 s each, peak memory
   < 200 MB above the process's baseline), with the full-size limits.
4. ``fuzz``: Schemathesis over the whole OpenAPI, every phase, thousands of requests
   (goal: 0 server errors).
5. ``kills``: 50 workers killed with SIGKILL at random moments of a run (goal: every run
   interrupted, never left running, every snapshot readable).

    python bench/adversarial.py                 # everything (about 20 minutes)
    python bench/adversarial.py storm body      # some of it
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
for folder in ("tests/adversarial", "tests/server"):
    sys.path.insert(0, str(ROOT / folder))

import crashes  # noqa: E402
import hostile  # noqa: E402
from server_helpers import free_port, live_server  # noqa: E402
from storm import HealthProbe, run_storm, seed_events  # noqa: E402

from convscope.config import Settings  # noqa: E402
from convscope.server.app import create_app  # noqa: E402
from convscope.store import Store  # noqa: E402
from convscope.untrusted import ArchiveLimits  # noqa: E402

MB = 1 << 20


def memory_kb(pid: int | str, field: str) -> int:
    """``VmRSS`` or ``VmHWM`` (peak) of a process, in KB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_memory() -> None:
    """Start a new peak (``VmHWM``) from the current memory (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


@contextlib.contextmanager
def server_process(store_dir: Path, *extra: str) -> Iterator[tuple[str, int]]:
    """``python -m convscope.server`` without workers; yields its URL and pid."""
    port = free_port()
    command = [sys.executable, "-m", "convscope.server", "--port", str(port), "--workers", "0"]
    command += ["--store", str(store_dir), *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        crashes.wait_until(lambda: _answers(url), 60, "the server")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def bench_storm(readers: int = 1_000, rounds: int = 3, idle: int = 50, events: int = 2_200) -> None:
    with tempfile.TemporaryDirectory() as directory, server_process(Path(directory)) as (url, pid):
        store = Store(directory)
        # A notebook run, training in this process, with frequent flushes.
        run = store.create_run({"dataset": "digits"}, source="notebook", status="running")
        store.update_run(run.id, worker_pid=os.getpid())
        expected = [event.id for event in store.events_after(run.id, 0)]
        expected += seed_events(store, run.id, events)
        idle_rss = memory_kb(pid, "VmRSS")
        peak = [idle_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                peak.append(memory_kb(pid, "VmRSS"))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        with HealthProbe(url) as health:
            result = asyncio.run(
                run_storm(url, run.id, expected, readers=readers, rounds=rounds, idle=idle)
            )
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        hwm = memory_kb(pid, "VmHWM")
        store.close()
    replays = readers * rounds
    print(
        f"SSE storm: {readers} clients x {rounds} replays of {len(expected)} events, {idle} "
        f"clients that never read, {elapsed:.1f} s"
    )
    print(
        f"  complete replays {result.complete}/{replays}, incomplete {len(result.incomplete)}, "
        f"refused {result.refused}, errors {len(result.errors)}"
    )
    print(
        f"  /api/health over {len(health.latencies)} requests: p50 "
        f"{health.percentile(50) * 1000:.1f} ms, p99 {health.percentile(99) * 1000:.1f} ms "
        f"(goal < 100 ms), max {max(health.latencies) * 1000:.1f} ms, failures "
        f"{len(health.failures)}"
    )
    print(
        f"  server memory: {idle_rss / 1024:.0f} MB idle, peak {max(peak) / 1024:.0f} MB sampled, "
        f"{hwm / 1024:.0f} MB high-water mark (goal < 300 MB)"
    )


def _time_refusal(url: str, request: bytes, body: Iterator[bytes]) -> tuple[float, bytes]:
    """Send a request and its body (in a thread) until the server answers; time the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        answered = threading.Event()

        def send() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(request)
                for chunk in body:
                    if answered.is_set():
                        return
                    sock.sendall(chunk)

        sender = threading.Thread(target=send, daemon=True)
        started = time.perf_counter()
        sender.start()
        answer = b""
        while b"\r\n" not in answer:
            answer += sock.recv(65536)
        took = time.perf_counter() - started
        answered.set()
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=10)
        return took, answer.split(b"\r\n", 1)[0]


def bench_body(size: int = 50 * MB, trials: int = 5) -> None:
    with tempfile.TemporaryDirectory() as directory, server_process(Path(directory)) as (url, pid):
        httpx.post(f"{url}/api/runs", json={"epochs": 0})  # a first request warms the route
        chunk = b"[" + b"0," * 32_767 + b"0]"
        headers = "POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        announced = (headers + f"Content-Length: {size}\r\n\r\n").encode()
        chunked = (headers + "Transfer-Encoding: chunked\r\n\r\n").encode()
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for label, request, piece in (
            ("with Content-Length", announced, chunk),
            ("chunked, no length", chunked, framed),
        ):
            results = [
                _time_refusal(url, request, iter([piece] * (size // len(chunk))))
                for _ in range(trials)
            ]
            times = sorted(took * 1000 for took, _ in results)
            statuses = {status.decode() for _, status in results}
            print(
                f"50 MB body {label}: {', '.join(statuses)}; median {times[len(times) // 2]:.1f} "
                f"ms, slowest {times[-1]:.1f} ms of {trials} (goal < 50 ms)"
            )
        print(f"  server memory high-water mark: {memory_kb(pid, 'VmHWM') / 1024:.0f} MB")


def bench_files() -> None:
    marker = Path(tempfile.mkdtemp()) / "code-ran"
    # The test corpus reads zips with a lower entry limit; here, the real one.
    corpus = [item for item in hostile.corpus(marker) if item.name != "zip: too many entries"]
    corpus.append(
        hostile.Hostile(
            "zip: 100,001 entries", "zip", hostile._many_entries(100_001), "max_archive_entries"
        )
    )
    full_limits = ArchiveLimits.from_settings()
    readers = {**hostile.READERS, "zip": lambda data: hostile.refuse_zip(data, full_limits)}
    # Warm up: the first file of each kind pays for imports (Keras for .keras files).
    for kind in readers:
        first = next(item for item in corpus if item.kind == kind)
        readers[kind](first.data)
    results = []
    for item in corpus:
        baseline = memory_kb("self", "VmRSS")
        reset_peak_memory()
        started = time.perf_counter()
        refusal = readers[item.kind](item.data)
        took = time.perf_counter() - started
        peak = memory_kb("self", "VmHWM") - baseline
        assert item.reason in str(refusal), (item.name, refusal)
        results.append((item.name, took, peak, len(item.data)))
    width = max(len(name) for name, *_ in results)
    print(f"hostile files: {len(results)} refused, none accepted; code ran: {marker.exists()}")
    for name, took, peak, size in results:
        sizes = f"{size / 1024:9.0f} KB  {took * 1000:7.1f} ms  +{peak / 1024:6.1f} MB"
        print(f"  {name:<{width}}  {sizes}")
    slowest = max(took for _, took, _, _ in results)
    largest = max(peak for _, _, peak, _ in results)
    print(
        f"  slowest refusal {slowest * 1000:.0f} ms (goal < 1000 ms), largest peak "
        f"+{largest / 1024:.0f} MB above the baseline (goal < 200 MB)"
    )


def bench_fuzz(examples: int = 200) -> None:
    import test_api_fuzz

    with tempfile.TemporaryDirectory() as directory:
        app = test_api_fuzz.fuzz_app(Path(directory) / "store")
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        crashes.wait_until(lambda: server.started, 60, "the server")
        try:
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(examples),
                "--seed",
                "1",
                "--no-color",
            ]
            started = time.perf_counter()
            output = subprocess.run(command, capture_output=True, text=True, timeout=3600).stdout
            took = time.perf_counter() - started
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    summary = [
        line
        for line in output.splitlines()
        if re.search(r"test cases|passed|failed|error", line, re.I)
    ]
    print(f"schemathesis, every phase, up to {examples} examples an operation, {took:.0f} s:")
    for line in summary[-8:]:
        print(f"  {line.strip()}")


def bench_kills(count: int = 50) -> None:
    rng = random.Random(2024)
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(store_dir=Path(directory), workers=1), start_workers=True)
        with live_server(app) as server:
            kills = []
            for _ in range(count):
                kills.append(
                    crashes.kill_worker_at_random(
                        server.client, app.state.store, app.state.pool.pids, rng
                    )
                )
            running = [run.id for run in app.state.store.list_runs() if run.status == "running"]
    statuses = sorted({kill.status for kill in kills})
    snapshots = sum(kill.snapshots for kill in kills)
    print(
        f"{count} workers killed with SIGKILL between {min(k.delay_s for k in kills):.1f} and "
        f"{max(k.delay_s for k in kills):.1f} s into a run: runs ended {statuses}, "
        f"{len(running)} left running, {snapshots} snapshots all readable "
        f"({sum(1 for k in kills if k.snapshots == 0)} runs killed before their first)"
    )


SECTIONS = {
    "storm": bench_storm,
    "body": bench_body,
    "files": bench_files,
    "fuzz": bench_fuzz,
    "kills": bench_kills,
}


def main() -> None:
    chosen = sys.argv[1:] or list(SECTIONS)
    for name in chosen:
        SECTIONS[name]()


if __name__ == "__main__":
    main()
