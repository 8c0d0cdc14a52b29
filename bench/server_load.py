"""Server latency under load: GET /api/runs while runs train through Ray and browsers follow.

Starts ``convscope serve --executor ray --workers 4`` (a local Ray instance with 4 CPUs) on
a fresh store, queues 4 digits runs and, while all 4 train, opens 50 Server-Sent Events
clients that follow them and measures GET /api/runs every 50 ms; then cancels the runs and
measures the same requests on the idle server. Prints p50, p99 and max of both, side by
side, and the events the clients received. Goal: p99 under 100 ms under load.

    python bench/server_load.py [--clients 50] [--runs 4] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

GOAL_MS = 100.0
RUN = {
    "dataset": "digits",
    "arch": "small_cnn",
    "epochs": 40,
    "batch_size": 16,
    "probe_size": 200,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, millis: list[float]) -> str:
    return (
        f"  {name:<34} n={len(millis):4d}  p50 {statistics.median(millis):6.1f} ms  "
        f"p99 {percentile(millis, 0.99):6.1f} ms  max {max(millis):6.1f} ms"
    )


async def sample_latency(client: httpx.AsyncClient, seconds: float, every: float) -> list[float]:
    """GET /api/runs every ``every`` seconds for ``seconds``; the latencies in ms."""
    millis: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        response = await client.get("/api/runs")
        response.raise_for_status()
        millis.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(max(0.0, every - (time.perf_counter() - start)))
    return millis


async def follow(client: httpx.AsyncClient, run_id: str, received: list[int]) -> None:
    """One browser tab's event stream of a run; counts the events in ``received[0]``."""
    async with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                received[0] += 1


async def idle(base_url: str, seconds: float) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        millis = await sample_latency(client, seconds, 0.05)
    print(summary("idle server", millis))


async def loaded(base_url: str, run_ids: list[str], clients: int, seconds: float) -> None:
    limits = httpx.Limits(max_connections=clients + 10)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as streams,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        received = [0]
        tasks = [
            asyncio.create_task(follow(streams, run_ids[i % len(run_ids)], received))
            for i in range(clients)
        ]
        await asyncio.sleep(2.0)  # every stream connected and replayed
        replayed = received[0]
        millis = await sample_latency(client, seconds, 0.05)
        live = received[0] - replayed
        training = [
            run["id"]
            for run in (await client.get("/api/runs")).json()
            if run["status"] == "running"
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(
        summary(f"{len(run_ids)} runs on Ray + {clients} SSE clients", millis)
        + f"  ({len(training)} still training at the end)"
    )
    p99 = percentile(millis, 0.99)
    verdict = "meets" if p99 < GOAL_MS else "misses"
    print(f"p99 under load: {p99:.1f} ms ({verdict} the goal of < {GOAL_MS:.0f} ms)")
    print(
        f"  live events delivered to the {clients} SSE clients while measuring: {live} "
        f"({live / seconds:.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-load-", dir="/tmp"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RAY_TMPDIR": str(folder / "ray"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "convscope.cli", "serve", "--port", str(port)]
    command += ["--store", str(folder / "store"), "--executor", "ray"]
    command += ["--workers", str(args.runs)]
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/api/health").json()["workers"] >= args.runs:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((folder / "server.log").read_text()[-3000:])
                time.sleep(0.5)
            print(
                f"server load: GET /api/runs, Ray executor with {args.runs} CPUs "
                f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            )
            run_ids = [client.post("/api/runs", json=RUN).json()["id"] for _ in range(args.runs)]
            deadline = time.monotonic() + 300
            while True:
                runs = [client.get(f"/api/runs/{run_id}").json() for run_id in run_ids]
                if all(r["status"] == "running" and r["num_snapshots"] >= 1 for r in runs):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the runs did not all start: {[r['status'] for r in runs]}")
                time.sleep(0.5)
            asyncio.run(loaded(base_url, run_ids, args.clients, args.seconds))
            for run_id in run_ids:
                client.post(f"/api/runs/{run_id}/cancel")
            while any(client.get(f"/api/runs/{i}").json()["status"] == "running" for i in run_ids):
                time.sleep(0.5)
            # The same requests once nothing trains, for comparison.
            asyncio.run(idle(base_url, min(10.0, args.seconds)))
    except BaseException:
        print((folder / "server.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
