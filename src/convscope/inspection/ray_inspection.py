"""Lens work on a Ray cluster: actors that play the inspection worker's role.

With ``convscope serve --executor ray``, the server's
:class:`~convscope.inspection.inspector.Inspector` is a :class:`RayInspection`: a small set
of :class:`InspectionActor` s, each a warm process on the cluster that imports Keras once,
keeps each run's network built and swaps snapshot weights in
(:class:`~convscope.inspection.run_models.RunModels`), and answers with the same code as a
local worker (:func:`convscope.inspection.service.reply_to`). A plain Ray task per request
would build the model again each time; an actor keeps it warm across requests.

Each actor reserves its resources for as long as the server runs
(:func:`convscope.ray_cluster.inspection_resources`: a CPU, and a share of a GPU where the
cluster has one to spare). The server lends one idle actor to each request and waits for
the answer in the calling thread, as with the local pool, with the same outcomes:

- refusals (bad input, unknown run or snapshot) come back as data and are raised again
  here, so that the routes answer 404 or 422 as for local workers;
- an actor whose process or node dies is restarted by Ray (``max_restarts=-1``; Ray never
  runs a request twice by itself: ``max_task_retries=0``); a request whose actor died
  before answering is tried once more on the restarted actor, and one that stops it twice
  fails with a message that says so;
- a request past ``settings.lens_timeout_s`` fails, and its actor is killed and restarted.

The actors open the store from the server's settings: the same database URL, and the
same store directory at the same path on every node (a shared file system), whence they
read the runs' weights and probe sets.

Ray is imported only when :meth:`RayInspection.start` runs; the server imports this module
without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from convscope.config import Settings
from convscope.inspection.inspector import Inspector
from convscope.inspection.requests import (
    InspectionUnavailable,
    LensFailed,
    LensFailure,
    LensReply,
)
from convscope.quiet import native_stderr_silenced
from convscope.ray_cluster import connect, inspection_resources

logger = logging.getLogger(__name__)

#: How long :meth:`RayInspection.pids` waits for each actor to answer.
PID_TIMEOUT_S = 10.0
#: How often a restarting actor is asked whether it is back.
RESTART_POLL_S = 0.2


class InspectionActor:
    """The Ray actor: an inspection worker on the cluster.

    Args:
        settings: Where the store is (the same for every node).
    """

    def __init__(self, settings: Settings) -> None:
        # Without this TensorFlow would take the whole memory of a GPU it shares with
        # training tasks or with other actors.
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        with native_stderr_silenced():
            from convscope.inspection.run_models import RunModels
            from convscope.inspection.service import reply_to
            from convscope.training.jobs import open_store

        self._models = RunModels(open_store(settings))
        self._reply_to = reply_to

    def pid(self) -> int:
        """The actor's process id (it answers once Keras is imported)."""
        return os.getpid()

    def answer(self, request: object) -> tuple[str, object]:
        """``("ok", answer)`` or ``("error", LensFailure)``, as a local worker replies."""
        return self._reply_to(self._models, request)


@dataclass(eq=False)
class _Actor:
    """One actor, and its readiness while it starts or restarts."""

    handle: Any
    #: The ObjectRef of ``pid()`` since the actor was (re)started; None once it answered.
    starting: Any


class RayInspection(Inspector):
    """Warm Ray actors that run lenses.

    Args:
        settings: Passed to every actor (where the store is); ``settings.lens_timeout_s``
            bounds one request, ``settings.inspection_start_timeout_s`` an actor's start.
        count: How many actors (requests beyond that wait for one to be free).
        init_options: More keyword arguments for ``ray.init``, when this process is not
            connected to Ray yet (the training executor usually connects first).
    """

    kind = "ray"

    def __init__(
        self, settings: Settings, count: int = 1, *, init_options: dict[str, Any] | None = None
    ) -> None:
        self.settings = settings
        self.count = max(1, count)
        self.init_options = dict(init_options or {})
        self._idle: queue.Queue[_Actor] = queue.Queue()
        self._actors: list[_Actor] = []
        self._lock = threading.Lock()
        self._stopped = False
        self._ray: Any = None
        self._actor_class: Any = None
        self._owns_ray = False

    def start(self) -> None:
        """Connect to Ray if needed and create the actors; they import Keras meanwhile."""
        ray, self._owns_ray = connect(self.settings, self.init_options)
        self._ray = ray
        resources = inspection_resources(ray.cluster_resources())
        self._actor_class = ray.remote(InspectionActor).options(
            num_cpus=resources.cpus,
            num_gpus=resources.gpus,
            max_restarts=-1,
            max_task_retries=0,
        )
        with self._lock:
            for _ in range(self.count - len(self._actors)):
                actor = self._create()
                self._actors.append(actor)
                self._idle.put(actor)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every actor has imported Keras; False if that takes over ``timeout`` s."""
        deadline = time.monotonic() + timeout
        taken: list[_Actor] = []
        try:
            for _ in range(self.count):
                actor = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
                taken.append(actor)
                self._await_ready(actor, deadline)
            return True
        except (queue.Empty, InspectionUnavailable):
            return False
        finally:
            for actor in taken:
                self._release(actor)

    def pids(self) -> list[int]:
        """Process ids of the actors that answer now (on their nodes)."""
        with self._lock:
            handles = [actor.handle for actor in self._actors]
        if not handles:
            return []
        pids = []
        for handle in handles:
            with contextlib.suppress(self._ray.exceptions.RayError):
                pids.append(self._ray.get(handle.pid.remote(), timeout=PID_TIMEOUT_S))
        return pids

    def stop(self) -> None:
        """Kill every actor; leave Ray if this inspector connected to it."""
        self._stopped = True
        with self._lock:
            actors, self._actors = self._actors, []
        for actor in actors:
            with contextlib.suppress(Exception):
                self._ray.kill(actor.handle, no_restart=True)
        if self._owns_ray and self._ray is not None:
            self._ray.shutdown()

    # -- internals ----------------------------------------------------------------------------

    def _ask(self, request: object, what: str) -> object:
        if self._stopped or self._ray is None:
            raise InspectionUnavailable("the inspection actors are stopped")
        start_timeout = self.settings.inspection_start_timeout_s
        try:
            actor = self._idle.get(timeout=start_timeout)
        except queue.Empty:
            raise InspectionUnavailable(
                "every inspection worker is busy; try again in a moment"
            ) from None
        try:
            self._await_ready(actor, time.monotonic() + start_timeout)
            try:
                kind, payload = self._exchange(actor, request, what)
            except _ActorGone:
                # The actor may have died while idle, before it saw the request: one more
                # try once Ray has restarted it. A request that stops it twice fails.
                self._await_ready(actor, time.monotonic() + start_timeout)
                kind, payload = self._exchange(actor, request, what)
        finally:
            self._release(actor)
        if kind == "ok":
            return _writable(payload)
        assert isinstance(payload, LensFailure)
        raise payload.to_exception()

    def _create(self) -> _Actor:
        handle = self._actor_class.remote(self.settings)
        return _Actor(handle, handle.pid.remote())

    def _await_ready(self, actor: _Actor, deadline: float) -> None:
        if actor.starting is None:
            return
        errors = self._ray.exceptions
        while True:
            try:
                pid = self._ray.get(actor.starting, timeout=max(0.0, deadline - time.monotonic()))
                break
            except errors.GetTimeoutError:
                raise InspectionUnavailable("the inspection actor did not start in time") from None
            except errors.ActorUnavailableError:
                # Ray is restarting it: ask again until it answers or the time is up.
                if time.monotonic() >= deadline:
                    raise InspectionUnavailable(
                        "the inspection actor did not restart in time"
                    ) from None
                time.sleep(RESTART_POLL_S)
                actor.starting = actor.handle.pid.remote()
            except errors.RayError as error:
                # Its constructor failed (Ray does not restart those): a new actor next time.
                self._replace(actor)
                raise InspectionUnavailable(
                    f"the inspection actor failed to start ({_first_line(error)})"
                ) from None
        logger.info("inspection actor ready in process %s", pid)
        actor.starting = None

    def _exchange(self, actor: _Actor, request: object, what: str) -> tuple[str, object]:
        timeout = self.settings.lens_timeout_s
        errors = self._ray.exceptions
        reference = actor.handle.answer.remote(request)
        try:
            kind, payload = self._ray.get(reference, timeout=timeout)
        except errors.GetTimeoutError:
            self._restart(actor)
            raise LensFailed(f"the {what} took longer than {timeout:g} s and was stopped") from None
        except errors.RayActorError:
            actor.starting = actor.handle.pid.remote()  # answers once Ray has restarted it
            raise _ActorGone(
                f"the inspection actor stopped while running the {what}; it has been restarted"
            ) from None
        except errors.RayError as error:
            raise LensFailed(f"the {what} failed on the cluster ({_first_line(error)})") from None
        return kind, payload

    def _restart(self, actor: _Actor) -> None:
        """Kill the actor's process; Ray starts it again (a hung or runaway lens)."""
        with contextlib.suppress(Exception):
            self._ray.kill(actor.handle, no_restart=False)
        actor.starting = actor.handle.pid.remote()

    def _replace(self, actor: _Actor) -> None:
        """Give up on the actor and put a new one in its place."""
        with contextlib.suppress(Exception):
            self._ray.kill(actor.handle, no_restart=True)
        if not self._stopped:
            fresh = self._create()
            actor.handle, actor.starting = fresh.handle, fresh.starting

    def _release(self, actor: _Actor) -> None:
        with self._lock:
            if actor in self._actors:
                self._idle.put(actor)


class _ActorGone(LensFailed):
    """The actor's process ended before it answered."""


def _writable(payload: object) -> object:
    """The reply with arrays of its own: Ray hands back read-only views of its object
    store, and a local worker's replies are ordinary arrays."""
    if isinstance(payload, LensReply):
        return LensReply({name: np.array(a) for name, a in payload.arrays.items()}, payload.meta)
    return payload


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
