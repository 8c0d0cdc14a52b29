"""The Ray executor: each queued run becomes a Ray task with its resource needs.

A dispatcher thread in the server submits every queued run of the store as a task
(``max_retries=0``: a run is never trained twice) and watches the tasks it submitted. Ray
queues the tasks until the cluster has room; the store's queue still orders them and tells
their positions. A task claims its run when it starts (``queued`` -> ``running``; a run
cancelled meanwhile is skipped), trains it with the same code as a local worker (cancel
flag polled, errors fail the run), and writes snapshots, progress and events to the store,
whence the server streams them as for any run. A task whose worker process or node dies
leaves its run ``running``: the dispatcher sees the task fail and marks the run
interrupted, every finished snapshot intact.

Every node must reach the store: the database by URL (PostgreSQL on a real cluster; SQLite
only on one machine) and the array directory on a shared file system, at the same path.

Ray is imported only when the executor starts; the server imports this module without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from convscope.config import Settings
from convscope.errors import ConvscopeError, StoreError
from convscope.ray_cluster import connect, reserved_for_inspection
from convscope.store import RunRecord, Store
from convscope.training.executor import ONE_CPU, Executor, Resources
from convscope.training.jobs import (
    DEFAULT_TRAINER,
    load_trainer,
    lower_priority,
    open_store,
    train_claimed_run,
)

logger = logging.getLogger(__name__)

DISPATCH_INTERVAL_S = 0.3
#: How long ``stop`` waits for cancelled tasks to mark their runs before marking them.
STOP_GRACE_S = 5.0
#: Stores opened by the tasks of one Ray worker process, by (store directory, URL).
_task_stores: dict[tuple[str, str | None], Store] = {}


def _task_store(settings: Settings) -> Store:
    key = (str(settings.store_dir), settings.database_url)
    store = _task_stores.get(key)
    if store is None:
        store = _task_stores[key] = open_store(settings)
    return store


def warm_up(trainer: str) -> int:
    """A Ray task that imports the trainer (Keras, TensorFlow) in its worker process, so
    that the first run on that worker starts at once. Returns the worker's pid."""
    lower_priority()
    load_trainer(trainer)
    return os.getpid()


def train_task(settings: Settings, run_id: str, trainer: str) -> str:
    """The Ray task of one run: claim it, train it, return its final status.

    Args:
        settings: Where the store is (the same for every node).
        run_id: A run the dispatcher saw queued.
        trainer: ``module:function`` to train with.

    Returns:
        The run's status afterwards ("skipped" when it was no longer queued).
    """
    lower_priority()
    train = load_trainer(trainer)
    store = _task_store(settings)
    if store.claim_run(run_id, os.getpid()) is None:
        return "skipped"
    train_claimed_run(store, run_id, train)
    return store.get_run(run_id).status


def call(function: Callable[..., Any], *args: Any) -> Any:
    """The Ray task of ``submit_call``: any picklable callable, not only plain functions."""
    return function(*args)


def run_resources(cluster: dict[str, float], cpus_per_run: float = 1.0) -> Resources:
    """What a training task asks of the cluster: its CPUs, and one GPU where there is one.

    Args:
        cluster: ``ray.cluster_resources()``.
        cpus_per_run: CPU cores reserved for each run.

    Returns:
        The resources of one run.
    """
    return Resources(cpus=cpus_per_run, gpus=1.0 if cluster.get("GPU", 0) >= 1 else 0.0)


class RayExecutor(Executor):
    """Trains queued runs as Ray tasks, on a cluster or on a local Ray instance.

    Args:
        settings: Where the store is; ``settings.workers`` sets the CPUs of a local Ray
            instance (one run per CPU, plus one per inspection actor), when no address is
            given.
        store: The server's store.
        address: A Ray cluster's address (``ray://host:10001`` or ``host:6379``); None
            starts a local Ray instance.
        trainer: ``module:function`` the tasks train with.
        cpus_per_run: CPU cores each run reserves.
        init_options: More keyword arguments for ``ray.init``.
    """

    kind = "ray"

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        address: str | None = None,
        trainer: str = DEFAULT_TRAINER,
        cpus_per_run: float = 1.0,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.address = address
        self.trainer = trainer
        self.cpus_per_run = cpus_per_run
        self.init_options = dict(init_options or {})
        self._tasks: dict[str, Any] = {}  # run id -> ObjectRef of its task
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._warm: list[Any] = []
        self._resources = Resources()
        self._slots = 0
        self._ray: Any = None
        self._train_remote: Any = None
        self._owns_ray = False

    def start(self) -> None:
        """Connect to the cluster (or start a local one) and start dispatching."""
        settings = dataclasses.replace(self.settings, ray_address=self.address)
        ray, self._owns_ray = connect(settings, self.init_options, cpus_per_run=self.cpus_per_run)
        self._ray = ray
        cluster = ray.cluster_resources()
        self._resources = run_resources(cluster, self.cpus_per_run)
        # The inspection actors hold their CPUs for as long as the server runs.
        free = cluster.get("CPU", 0) - reserved_for_inspection(self.settings)
        self._slots = max(0, int(free // self.cpus_per_run))
        self._train_remote = ray.remote(train_task).options(
            num_cpus=self._resources.cpus,
            num_gpus=self._resources.gpus,
            max_retries=0,
            # Ray sets OMP_NUM_THREADS=1 for 1-CPU tasks; TensorFlow's own thread pools
            # follow the cores reserved instead.
        )
        warm = ray.remote(warm_up).options(num_cpus=self._resources.cpus, max_retries=0)
        self._warm = [warm.remote(self.trainer) for _ in range(max(1, self._slots))]
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="convscope-ray-dispatcher", daemon=True
        )
        self._dispatcher.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the warm-up tasks have imported the trainer on the workers."""
        if self._ray is None:
            return False
        ready, _ = self._ray.wait(self._warm, num_returns=len(self._warm), timeout=timeout)
        return len(ready) == len(self._warm)

    def slots(self) -> int:
        """How many runs the cluster can train at once (its CPUs over the CPUs per run)."""
        return self._slots

    def owns(self, run: RunRecord) -> bool:
        """Whether a task of this executor holds ``run``."""
        with self._lock:
            return run.id in self._tasks

    def cancel(self, run: RunRecord) -> None:
        """Cancel the task of ``run``: a pending one leaves Ray's queue, a running one gets
        a KeyboardInterrupt (it also sees the store's cancel flag within a batch)."""
        with self._lock:
            ref = self._tasks.get(run.id)
        if ref is not None:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=False)

    def force_stop(self, run: RunRecord, reason: str) -> bool:
        """Kill the worker process of ``run``'s task; the run becomes interrupted."""
        with self._lock:
            ref = self._tasks.pop(run.id, None)
        if ref is None:
            return False
        with contextlib.suppress(Exception):
            self._ray.cancel(ref, force=True)
        self._interrupt(run.id, reason)
        return True

    def submit_call(
        self, function: Callable[..., Any], /, *args: Any, resources: Resources = ONE_CPU
    ) -> Future[Any]:
        """Compute ``function(*args)`` as a Ray task with ``resources``."""
        remote = self._ray.remote(call).options(
            num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=0
        )
        future: Future[Any] = remote.remote(function, *args).future()
        return future

    def stop(self) -> None:
        """Cancel every task; their runs end cancelled or interrupted; leave the cluster."""
        self._stopping.set()
        if self._dispatcher is not None:
            self._dispatcher.join()
        with self._lock:
            tasks, self._tasks = dict(self._tasks), {}
        for ref in tasks.values():
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        for run_id in tasks:
            self._interrupt(run_id, "the server stopped during training")
        if self._owns_ray and self._ray is not None:
            self._ray.shutdown()

    def _dispatch_loop(self) -> None:
        while not self._stopping.wait(DISPATCH_INTERVAL_S):
            try:
                self.dispatch_once()
            except Exception:
                logger.exception("dispatching runs to Ray failed; retrying")

    def dispatch_once(self) -> None:
        """Submit the queued runs not yet submitted; settle the tasks that ended."""
        try:
            queued = self.store.queued_run_ids()
        except StoreError:
            logger.exception("reading the queue failed; retrying")
            queued = []
        with self._lock:
            for run_id in queued:
                if run_id not in self._tasks:
                    self._tasks[run_id] = self._train_remote.remote(
                        self.settings, run_id, self.trainer
                    )
            pending = dict(self._tasks)
        if not pending:
            return
        done, _ = self._ray.wait(list(pending.values()), num_returns=len(pending), timeout=0)
        finished = set(done)
        for run_id, ref in pending.items():
            if ref not in finished:
                continue
            try:
                self._ray.get(ref)
            except Exception as error:  # the task died, was cancelled, or failed to start
                self._interrupt(run_id, _death_reason(error))
            with self._lock:
                if self._tasks.get(run_id) is ref:
                    del self._tasks[run_id]

    def _interrupt(self, run_id: str, reason: str) -> None:
        """Close a run whose task ended without closing it."""
        with contextlib.suppress(ConvscopeError):
            run = self.store.get_run(run_id)
            if run.status == "running":
                status = "cancelled" if run.cancel_requested else "interrupted"
                self.store.set_status(
                    run_id, status, error=None if run.cancel_requested else reason
                )
            # A run still queued lost its task before it started: it stays queued and is
            # submitted again at the next dispatch.


def _death_reason(error: BaseException) -> str:
    name = type(error).__name__
    if "Cancelled" in name:
        return "its Ray task was cancelled"
    if "NodeDied" in name:
        return "the Ray node training it died"
    if "WorkerCrashed" in name:
        return "the Ray worker process training it died"
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (
        f"its Ray task failed ({name}: {first_line})"
        if first_line
        else f"its Ray task failed ({name})"
    )
