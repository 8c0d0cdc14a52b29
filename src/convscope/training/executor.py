"""The executor interface: where queued runs train and where other work is computed.

The server talks to one :class:`Executor` and does not care which: the default
:class:`~convscope.training.jobs.WorkerPool` keeps spawned worker processes on this
machine, and :class:`~convscope.training.ray_executor.RayExecutor` submits each queued run
as a task to a Ray cluster. Both take their work from the store's queue, report progress,
snapshots and events through the store, and honour its cancel flag; the executor only adds
what the store cannot do: reach a process at once (a signal, ``ray.cancel``), stop one that
ignores a cancel, and notice one that died.

Besides runs, an executor computes calls: a picklable function with picklable arguments
(for example a lens applied to a stored snapshot) whose result, NumPy arrays and a dict,
comes back as a :class:`concurrent.futures.Future`. The server never imports Keras, so such
work must run elsewhere, and on a cluster it should run where the cluster has room.

This module is imported by the server: it imports neither Keras nor Ray.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, get_args

from convscope.errors import InvalidInput
from convscope.store import RunRecord

ExecutorKind = Literal["local", "ray"]
EXECUTOR_KINDS: tuple[str, ...] = get_args(ExecutorKind)


@dataclass(frozen=True)
class Resources:
    """What one piece of work needs from the machine or the cluster.

    Attributes:
        cpus: CPU cores (fractions allowed on Ray).
        gpus: GPUs; 0 trains on the CPU.
    """

    cpus: float = 1.0
    gpus: float = 0.0


#: What a call needs unless it says otherwise.
ONE_CPU = Resources()


class Executor(abc.ABC):
    """Runs the queued runs of a store, and computes calls, somewhere.

    A run's whole life goes through the store: the executor claims it (``queued`` ->
    ``running``), trains it with the trainer, and marks it ``interrupted`` when the process
    or node training it dies. Callers set the store's cancel flag first
    (``Store.request_cancel``), then call :meth:`cancel` so that it is seen at once.
    """

    #: Which kind of executor this is ("local" or "ray").
    kind: str

    @abc.abstractmethod
    def start(self) -> None:
        """Start taking queued runs (returns at once; see :meth:`wait_ready`)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop every run in progress (they become interrupted) and release the resources."""

    @abc.abstractmethod
    def wait_ready(self, timeout: float) -> bool:
        """Wait until the executor can start training at once (Keras imported).

        Returns:
            False if that did not happen within ``timeout`` seconds.
        """

    @abc.abstractmethod
    def slots(self) -> int:
        """How many runs can train at the same time now."""

    @abc.abstractmethod
    def owns(self, run: RunRecord) -> bool:
        """Whether this executor is training ``run`` now."""

    @abc.abstractmethod
    def cancel(self, run: RunRecord) -> None:
        """Make a cancel request that the store holds reach ``run``'s process now.

        A queued run that the executor had already scheduled is dropped from its schedule.
        """

    @abc.abstractmethod
    def force_stop(self, run: RunRecord, reason: str) -> bool:
        """Stop the process training ``run`` even though it ignores cancel requests.

        The run is marked interrupted with ``reason`` before this returns.

        Returns:
            False if this executor is not training ``run``.
        """

    @abc.abstractmethod
    def submit_call(
        self, function: Callable[..., Any], /, *args: Any, resources: Resources = ONE_CPU
    ) -> Future[Any]:
        """Compute ``function(*args)`` where this executor computes, not in the caller.

        Args:
            function: A module-level function (picklable by reference).
            *args: Picklable arguments.
            resources: What the call needs.

        Returns:
            A future of the function's result (which must be picklable).
        """


def check_executor_kind(kind: str) -> str:
    """Return ``kind`` if it names an executor, else raise ``InvalidInput``."""
    if kind not in EXECUTOR_KINDS:
        raise InvalidInput("executor", f"unknown executor {kind!r}", EXECUTOR_KINDS)
    return kind
