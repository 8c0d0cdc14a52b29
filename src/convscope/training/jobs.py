"""Training jobs: spawned worker processes that take queued runs from the store.

The queue is the ``runs`` table. Each worker is a separate process, started with the
``spawn`` method so it shares nothing with the server (no inherited threads, locks or
sockets); it imports Keras once, then loops: claim the oldest queued run, train it, go
back to waiting. The server never trains: it only watches its workers through a
:class:`WorkerPool`, which replaces a worker that dies and marks the run that worker had
as interrupted.

This module is imported by the server, which must stay free of Keras and TensorFlow:
only :func:`worker_main`, which runs in the worker process, imports them.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from convscope.config import Settings
from convscope.errors import ConvscopeError, NotFound, StoreError
from convscope.processes import process_exists as process_exists  # re-exported
from convscope.quiet import native_stderr_silenced
from convscope.store import RunRecord, Store
from convscope.training.executor import ONE_CPU, Executor, Resources

logger = logging.getLogger(__name__)

#: The function a worker trains with, as ``module:attribute``.
DEFAULT_TRAINER = "convscope.training.runner:train_run"
CLAIM_INTERVAL_S = 0.3
CANCEL_POLL_S = 0.2
SUPERVISE_INTERVAL_S = 0.5
TERMINATE_GRACE_S = 3.0
MAX_RETRY_DELAY_S = 60.0
#: Sent by the server to a worker whose run it was asked to cancel, so that the worker
#: looks for the request at once rather than at its next poll (not on Windows).
CANCEL_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)

#: Set in a worker process by CANCEL_SIGNAL: wakes the thread that watches for cancels.
_cancel_check_requested = threading.Event()
#: How much lower than the server the training processes run: training is batch work, and
#: on a shared machine the server's requests and event streams must get the CPU first.
WORKER_NICENESS = 10
_lowered = False


def lower_priority() -> None:
    """Lower this (training) process's CPU priority by ``WORKER_NICENESS``, once."""
    global _lowered
    if _lowered:
        return
    _lowered = True
    with contextlib.suppress(AttributeError, OSError):  # no os.nice on Windows
        os.nice(WORKER_NICENESS)


def open_store(settings: Settings) -> Store:
    """The store that ``settings`` point to."""
    return Store(settings.store_dir, url=settings.database_url)


def load_trainer(path: str = "") -> Callable[..., Any]:
    """Import the trainer ``module:function`` (empty: the real one), keeping TensorFlow's
    start-up notices off the terminal."""
    with native_stderr_silenced():
        return _load_trainer(path or DEFAULT_TRAINER)


def _load_trainer(path: str) -> Callable[..., Any]:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def worker_main(settings: Settings, ready: ProcessEvent | None = None, trainer: str = "") -> None:
    """Entry point of a worker process: claim queued runs and train them, one at a time.

    The worker exits by itself when the process that started it is gone, so that a
    killed server leaves no worker behind; the run it had then stays ``running`` until
    the next server start marks it interrupted.

    Args:
        settings: Where the store is.
        ready: Set once Keras is imported and the store is open.
        trainer: ``module:function`` with the signature of
            :func:`convscope.training.runner.train_run`; empty means that function.
    """
    # Ctrl-C in a terminal reaches the whole process group; the server decides when its
    # workers stop (it terminates them on shutdown).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if CANCEL_SIGNAL is not None:
        signal.signal(CANCEL_SIGNAL, lambda *_: _cancel_check_requested.set())
    parent = os.getppid()
    lower_priority()
    # Importing the trainer imports Keras and TensorFlow (seconds): done once, up front,
    # so that the first run starts training at once.
    train = load_trainer(trainer)
    store = open_store(settings)
    if ready is not None:
        ready.set()
    while os.getppid() == parent:
        try:
            run = store.claim_next_queued(os.getpid())
        except StoreError:
            # A database busy beyond its timeout: the queue is still there next time.
            logger.exception("claiming a queued run failed; retrying")
            run = None
        if run is None:
            time.sleep(CLAIM_INTERVAL_S)
            continue
        train_claimed_run(store, run.id, train, parent_pid=parent)


def fresh_keras_state() -> None:
    """Reset Keras' global state, so that a run never inherits what an earlier one left.

    A run that fails inside TensorFlow can leave Keras' name-scope stack and graph state
    broken, and every later run of the same process would then fail too. Keras is
    cleared only if the trainer imported it.
    """
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()


def train_claimed_run(
    store: Store,
    run_id: str,
    train: Callable[..., Any],
    *,
    parent_pid: int | None = None,
) -> None:
    """Train a run this process has claimed, stopping when a cancel is requested.

    A small thread polls the store for a cancel request, at once when the server signals
    one (CANCEL_SIGNAL) and every CANCEL_POLL_S otherwise, and sets the flag that the
    trainer checks after every batch. Errors of the trainer fail the run, never the
    worker, and the run starts from a clean Keras state (:func:`fresh_keras_state`), so
    that no earlier run of the process can break it.

    Args:
        store: The store.
        run_id: A run in status ``running``, claimed by this process.
        train: The trainer, called as ``train(store, run_id, should_stop=...)``.
        parent_pid: When given, the process exits as soon as its parent is gone.
    """
    fresh_keras_state()
    stop = threading.Event()
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            _cancel_check_requested.wait(CANCEL_POLL_S)
            _cancel_check_requested.clear()
            if finished.is_set():
                return
            if parent_pid is not None and os.getppid() != parent_pid:
                # The server is gone: leave the run 'running' so that the next server
                # start marks it interrupted, with every earlier snapshot intact.
                os._exit(1)
            try:
                if store.is_cancel_requested(run_id):
                    stop.set()
            except NotFound:  # the run was deleted: stop training it
                stop.set()
            except Exception:
                logger.exception("checking for a cancel request failed")

    watcher = threading.Thread(target=watch, name=f"cancel-watch-{run_id}", daemon=True)
    watcher.start()
    try:
        train(store, run_id, should_stop=stop.is_set)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        _finish_if_running(store, run_id, "failed", f"{type(error).__name__}: {error}")
    finally:
        finished.set()
        _cancel_check_requested.set()
        watcher.join()
    _finish_if_running(store, run_id, "failed", "the trainer returned without finishing the run")


def _finish_if_running(store: Store, run_id: str, status: str, error: str) -> None:
    with contextlib.suppress(ConvscopeError):
        if store.get_run(run_id).status == "running":
            store.set_status(run_id, status, error=error)


@dataclass
class _Worker:
    """One slot of the pool: its process, or the time to retry after failed starts."""

    process: BaseProcess | None
    ready: ProcessEvent | None
    failed_starts: int = 0
    retry_at: float = 0.0

    def is_alive(self) -> bool:
        return self.process is not None and self.process.is_alive()


class WorkerPool(Executor):
    """The local executor: keeps ``count`` worker processes alive and cleans up after the
    ones that die.

    A worker that dies while training has its run marked interrupted and is replaced at
    once. A worker that dies before it is ready (a broken installation) is retried with a
    growing delay, so that a crash loop does not take the machine's cores.

    Args:
        settings: Passed to every worker (where the store is).
        store: The server's store, used to mark the runs of dead workers.
        count: How many workers to keep.
        trainer: ``module:function`` the workers train with (default: the real trainer).
    """

    kind = "local"

    def __init__(
        self, settings: Settings, store: Store, count: int, *, trainer: str = DEFAULT_TRAINER
    ) -> None:
        self.settings = settings
        self.store = store
        self.count = max(0, count)
        self.trainer = trainer
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._calls: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers and the thread that supervises them."""
        with self._lock:
            while len(self._workers) < self.count:
                self._workers.append(self._spawn())
        self._supervisor = threading.Thread(
            target=self._supervise, name="convscope-worker-supervisor", daemon=True
        )
        self._supervisor.start()

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            processes = [w.process for w in self._workers if w.process is not None]
            return [p.pid for p in processes if p.is_alive() and p.pid is not None]

    def alive_count(self) -> int:
        """How many workers are alive."""
        return len(self.pids())

    def slots(self) -> int:
        """How many runs can train at once: the live workers."""
        return self.alive_count()

    def owns(self, run: RunRecord) -> bool:
        """Whether one of this pool's workers is training ``run``."""
        return run.status == "running" and self.owns_pid(run.worker_pid)

    def cancel(self, run: RunRecord) -> None:
        """Signal the worker of ``run`` to look for its cancel request now."""
        self.notify_cancel(run.worker_pid)

    def force_stop(self, run: RunRecord, reason: str) -> bool:
        """Stop the worker training ``run`` and start a fresh one in its place."""
        if not self.owns(run):
            return False
        assert run.worker_pid is not None
        return self.restart_worker(run.worker_pid, reason)

    def submit_call(
        self, function: Callable[..., Any], /, *args: Any, resources: Resources = ONE_CPU
    ) -> Future[Any]:
        """Compute ``function(*args)`` in a spawned process of this machine (one at a time)."""
        with self._lock:
            if self._calls is None:
                self._calls = ProcessPoolExecutor(1, mp_context=self._context)
            return self._calls.submit(function, *args)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has imported Keras and opened the store.

        Returns:
            False if that did not happen within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                ready = [
                    w.is_alive() and w.ready is not None and w.ready.is_set() for w in self._workers
                ]
            if len(ready) == self.count and all(ready):
                return True
            time.sleep(0.05)
        return False

    def owns_pid(self, pid: int | None) -> bool:
        """Whether ``pid`` is one of this pool's workers."""
        return pid is not None and pid in self.pids()

    def notify_cancel(self, pid: int | None) -> None:
        """Tell the worker ``pid``, if it is one of ours, to look for a cancel request now."""
        if CANCEL_SIGNAL is not None and self.owns_pid(pid):
            assert pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, CANCEL_SIGNAL)

    def restart_worker(self, pid: int, reason: str) -> bool:
        """Stop the worker ``pid`` (stuck, or its run deleted) and start a fresh one.

        The run it had is marked interrupted with ``reason`` before this returns.

        Returns:
            False if ``pid`` is not one of this pool's workers.
        """
        with self._lock:
            for slot, worker in enumerate(self._workers):
                if worker.process is not None and worker.process.pid == pid:
                    _stop_process(worker.process)
                    self._interrupt_runs_of(pid, reason)
                    worker.process.close()
                    stopped = _Worker(None, None)
                    self._workers[slot] = stopped if self._stopping.is_set() else self._spawn()
                    return True
        return False

    def stop(self, timeout: float = TERMINATE_GRACE_S) -> None:
        """Stop the supervisor and every worker; runs they had are marked interrupted."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        with self._lock:
            processes = [w.process for w in self._workers if w.process is not None]
            self._workers = []
            calls, self._calls = self._calls, None
        if calls is not None:
            calls.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            _stop_process(process, timeout)
            if process.pid is not None:
                self._interrupt_runs_of(process.pid, "the server stopped during training")
            process.close()

    def _spawn(self, failed_starts: int = 0) -> _Worker:
        ready = self._context.Event()
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, ready, self.trainer),
            name="convscope-worker",
            # Daemonic: the server's exit takes its workers along even on paths that skip
            # the orderly shutdown.
            daemon=True,
        )
        process.start()
        logger.info("started worker process %s", process.pid)
        return _Worker(process, ready, failed_starts)

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            try:
                self.check_workers()
            except Exception:
                logger.exception("supervising the worker processes failed")

    def check_workers(self) -> list[int]:
        """Replace dead workers, marking their runs interrupted; returns the dead pids."""
        dead: list[int] = []
        with self._lock:
            if self._stopping.is_set():
                return dead
            for slot, worker in enumerate(self._workers):
                if worker.process is None:
                    if time.monotonic() >= worker.retry_at:
                        self._workers[slot] = self._spawn(worker.failed_starts)
                    continue
                if worker.process.is_alive():
                    continue
                pid, code = worker.process.pid, worker.process.exitcode
                started = worker.ready is not None and worker.ready.is_set()
                worker.process.close()
                if pid is not None:
                    self._interrupt_runs_of(pid, _exit_reason(code))
                    dead.append(pid)
                if started:
                    logger.warning("worker process %s exited with code %s", pid, code)
                    self._workers[slot] = self._spawn()
                    continue
                failed = worker.failed_starts + 1
                delay = min(MAX_RETRY_DELAY_S, 2.0**failed)
                logger.error(
                    "worker process %s failed to start (exit code %s); retrying in %.0f s",
                    pid,
                    code,
                    delay,
                )
                self._workers[slot] = _Worker(None, None, failed, time.monotonic() + delay)
        return dead

    def _interrupt_runs_of(self, pid: int, reason: str) -> None:
        with contextlib.suppress(ConvscopeError):
            self.store.interrupt_runs_of(pid, reason)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed ({name})"
    return f"the worker process exited with code {code}"


def _stop_process(process: BaseProcess, timeout: float = TERMINATE_GRACE_S) -> None:
    if process.is_alive():
        process.terminate()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
