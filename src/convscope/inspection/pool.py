"""The server's side of the inspection workers: start them, send requests, survive them.

The pool keeps ``count`` spawned worker processes (see :mod:`convscope.inspection.worker`),
each behind a pipe; it is the default :class:`~convscope.inspection.inspector.Inspector`.
:meth:`InspectionPool.run` takes an idle worker, sends it a request and waits for the
answer, in the calling thread (the server calls it from a thread, never from the event
loop). A worker that dies, or takes longer than the time limit, is killed and
replaced: a request whose worker ended before answering is tried once more on a fresh
one; a request that ran too long (or stopped two workers) fails with a message that says
so, and the next request gets a fresh worker.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from convscope.config import Settings
from convscope.inspection.inspector import Inspector
from convscope.inspection.requests import InspectionUnavailable, LensFailed, LensFailure
from convscope.inspection.worker import inspection_main

logger = logging.getLogger(__name__)

#: How long a stopping worker gets before it is killed.
STOP_GRACE_S = 2.0


@dataclass
class _Slot:
    """One worker process and the server's end of its pipe."""

    process: BaseProcess
    connection: Connection
    ready: bool = False


class InspectionPool(Inspector):
    """Warm worker processes that run lenses.

    Args:
        settings: Passed to every worker (where the store is); ``settings.lens_timeout_s``
            bounds one request, ``settings.inspection_start_timeout_s`` a worker's start.
        count: How many workers (requests beyond that wait for one to be free).
    """

    kind = "local"

    def __init__(self, settings: Settings, count: int = 1) -> None:
        self.settings = settings
        self.count = max(1, count)
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Slot] = queue.Queue()
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        """Start the workers; they load Keras in the background."""
        with self._lock:
            for _ in range(self.count - len(self._slots)):
                slot = self._spawn()
                self._slots.append(slot)
                self._idle.put(slot)

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            return [
                slot.process.pid
                for slot in self._slots
                if slot.process.pid is not None and slot.process.is_alive()
            ]

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has loaded Keras; False if that takes over ``timeout`` s."""
        deadline = time.monotonic() + timeout
        taken: list[_Slot] = []
        try:
            for _ in range(self.count):
                slot = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
                taken.append(slot)
                self._await_ready(slot, deadline)
            return True
        except (queue.Empty, InspectionUnavailable):
            return False
        finally:
            for slot in taken:
                self._release(slot)

    def _ask(self, request: object, what: str) -> object:
        if self._stopped:
            raise InspectionUnavailable("the inspection workers are stopped")
        deadline = time.monotonic() + self.settings.inspection_start_timeout_s
        try:
            slot = self._idle.get(timeout=self.settings.inspection_start_timeout_s)
        except queue.Empty:
            raise InspectionUnavailable(
                "every inspection worker is busy; try again in a moment"
            ) from None
        try:
            self._await_ready(slot, deadline)
            try:
                kind, payload = self._exchange(slot, request, what)
            except _WorkerGone:
                # The worker may have died while idle, before it saw the request: one more
                # try on a fresh worker. A request that stops two workers fails.
                self._renew(slot)
                self._await_ready(slot, deadline)
                kind, payload = self._exchange(slot, request, what)
        except BaseException:
            self._renew(slot)
            raise
        finally:
            self._release(slot)
        if kind == "ok":
            return payload
        assert isinstance(payload, LensFailure)
        raise payload.to_exception()

    def stop(self) -> None:
        """Stop every worker."""
        self._stopped = True
        with self._lock:
            slots, self._slots = self._slots, []
        for slot in slots:
            with contextlib.suppress(OSError, ValueError):
                slot.connection.send(None)
        for slot in slots:
            _stop_process(slot.process)
            slot.connection.close()

    # -- internals ----------------------------------------------------------------------------

    def _spawn(self) -> _Slot:
        process, connection = self._start_process()
        return _Slot(process, connection)

    def _start_process(self) -> tuple[BaseProcess, Connection]:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=inspection_main,
            args=(self.settings, theirs),
            name="convscope-inspection",
            daemon=True,
        )
        process.start()
        theirs.close()
        logger.info("started inspection worker %s", process.pid)
        return process, ours

    def _renew(self, slot: _Slot) -> None:
        """Replace the slot's process by a fresh one (it died, hung or failed to start)."""
        _stop_process(slot.process)
        slot.connection.close()
        if self._stopped:
            return
        slot.process, slot.connection = self._start_process()
        slot.ready = False

    def _await_ready(self, slot: _Slot, deadline: float) -> None:
        if not slot.process.is_alive():  # died while idle
            self._renew(slot)
        if slot.ready:
            return
        if not slot.connection.poll(max(0.0, deadline - time.monotonic())):
            raise InspectionUnavailable("the inspection worker did not start in time")
        try:
            message, _ = slot.connection.recv()
        except (EOFError, OSError):
            raise InspectionUnavailable("the inspection worker failed to start") from None
        slot.ready = message == "ready"

    def _exchange(self, slot: _Slot, request: object, what: str) -> tuple[str, object]:
        timeout = self.settings.lens_timeout_s
        try:
            slot.connection.send(request)
            if not slot.connection.poll(timeout):
                raise LensFailed(f"the {what} took longer than {timeout:g} s and was stopped")
            kind, payload = slot.connection.recv()
        except (EOFError, OSError):
            slot.process.join(STOP_GRACE_S)
            code = slot.process.exitcode
            raise _WorkerGone(
                f"the inspection worker stopped while running the {what}"
                + (f" (exit code {code})" if code is not None else "")
                + "; it has been restarted"
            ) from None
        return kind, payload

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            if slot in self._slots:
                self._idle.put(slot)


class _WorkerGone(LensFailed):
    """The worker process ended before it answered."""


def _stop_process(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
    process.join(STOP_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()
