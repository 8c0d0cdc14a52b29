"""Helpers of the server tests: runs seeded through the real Store, a real uvicorn server
in a thread, and a trainer that never stops (to test how a stuck worker is handled)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from convscope.server.launch import free_port as free_port
from convscope.store import Store

with warnings.catch_warnings():
    # Starlette asks for `httpx2` but still supports the `httpx` the project depends on.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient as StarletteTestClient

#: The address the test client gives: a host name the server answers to.
LOCAL_URL = "http://127.0.0.1"


class TestClient(StarletteTestClient):
    """Starlette's test client, addressing the app as the local server it is."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, app: FastAPI, **kwargs: object) -> None:
        kwargs.setdefault("base_url", LOCAL_URL)
        super().__init__(app, **kwargs)  # type: ignore[arg-type]


@dataclass
class Api:
    """A TestClient on an app without workers, and the store behind it."""

    client: TestClient
    app: FastAPI
    store: Store
    store_dir: Path


NUM_CLASSES = 3
PROBE_COUNT = 12
LAYER_NAMES = ("rescale", "conv1", "logits")


def logits_for(correct: np.ndarray, labels: np.ndarray, confidence: float = 4.0) -> np.ndarray:
    """Logits that classify image i correctly exactly where ``correct[i]`` is true."""
    logits = np.zeros((len(labels), NUM_CLASSES), dtype=np.float32)
    wrong = (labels + 1) % NUM_CLASSES
    target = np.where(correct, labels, wrong)
    logits[np.arange(len(labels)), target] = confidence
    return logits.astype(np.float16)


def probe_images(count: int = PROBE_COUNT) -> np.ndarray:
    """Grayscale 4x5 probe images whose every pixel equals the image's index * 10."""
    values = (np.arange(count, dtype=np.uint8) * 10)[:, None, None, None]
    return np.broadcast_to(values, (count, 4, 5, 1)).copy()


#: Per snapshot, which of the 12 probe images are classified correctly.
CORRECTNESS = np.array(
    [
        [0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1],
        [1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1],
        [1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1],
    ],
    dtype=bool,
)


def seed_run(store: Store, *, status: str = "done", snapshots: int = 3) -> str:
    """A run written through the real Store: probe set, snapshots, batches, final state."""
    run = store.create_run(
        {"dataset": "digits", "epochs": 2},
        source="cli",
        name="seeded",
        class_names=["a", "b", "c"],
    )
    labels = np.arange(PROBE_COUNT, dtype=np.int64) % NUM_CLASSES
    store.write_run_arrays(
        run.id,
        "probe",
        {"indices": np.arange(PROBE_COUNT) * 2, "images": probe_images(), "labels": labels},
    )
    if status != "queued":
        store.set_status(run.id, "running")
    store.add_batches(run.id, [(1, 0.5, 1.5, 0.25), (2, 1.0, 1.0, 0.5), (3, 1.5, np.nan, 0.75)])
    for index in range(snapshots):
        positions = np.stack([np.arange(PROBE_COUNT), np.full(PROBE_COUNT, index)], 1)
        store.add_snapshot(
            run.id,
            index,
            epoch=[0.5, 1.0, 2.0][index],
            step=index + 1,
            metrics={
                "train_loss": 1.0 / (index + 1),
                "train_accuracy": 0.5,
                "val_loss": float("nan"),
                "val_accuracy": 0.25,
            },
            arrays={
                "logits": logits_for(CORRECTNESS[index], labels),
                "embedding": np.ones((PROBE_COUNT, 4), np.float16),
                "positions": positions.astype(np.float32),
                "confusion": np.eye(NUM_CLASSES, dtype=np.int32) * (index + 1),
                "layer_names": np.array(LAYER_NAMES),
                "layer_weight_norm": np.array([np.nan, 2.0, 3.0], np.float32),
                "layer_grad_norm": np.array([np.nan, 0.5, 0.25], np.float32),
                "layer_update_ratio": np.array([np.nan, 1e-3, 2e-3], np.float32),
                "layer_activation_mean": np.array([0.5, 0.25, 0.0], np.float32),
                "layer_activation_std": np.array([0.1, 0.2, 0.3], np.float32),
                "layer_dead_fraction": np.array([np.nan, 0.125, np.nan], np.float32),
            },
        )
    if status in ("done", "failed", "cancelled", "interrupted"):
        store.update_run(run.id, final_metrics={"train_loss": 0.5, "val_accuracy": 0.75})
        store.set_status(run.id, status)
    return run.id


@dataclass
class LiveServer:
    """A real uvicorn server in a thread, and an HTTP client for it."""

    app: FastAPI
    url: str
    client: httpx.Client
    server: uvicorn.Server
    thread: threading.Thread


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """Serve ``app`` on a free local port until the block ends (lifespan included)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    app.state.hub.should_close = lambda: server.should_exit
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), timeout=60, what="server start")
    assert server.started, "the server did not start"
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        try:
            yield LiveServer(app, url, client, server, thread)
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    assert not thread.is_alive(), "the server did not stop"


def run_in_own_loop(scenario: Callable[[], Any]) -> Any:
    """Run a coroutine function to completion in a thread with its own event loop.

    Playwright's sync API (the browser tests) keeps an event loop running in the main
    thread for the whole session, where ``asyncio.run`` refuses to start another.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def stuck_trainer(store: Store, run_id: str, **_: object) -> None:
    """A trainer that ignores ``should_stop``: a worker stuck in a long computation."""
    while True:
        time.sleep(1)


def poisoning_trainer(store: Store, run_id: str, **kwargs: object) -> object:
    """The real trainer, except for a run named "poison", which breaks Keras' state first.

    It does what a network named "my net" once did: TensorFlow refuses the scope name
    while Keras is inside it, and Keras' name-scope stack stays broken for the process.
    """
    if store.get_run(run_id).name == "poison":
        import keras

        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="my net")
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.zeros((4, 4)), np.zeros((4, 2)), verbose=0)  # raises ValueError
    from convscope.training.runner import train_run

    return train_run(store, run_id, **kwargs)  # type: ignore[arg-type]
