"""The interface the server talks to for lens work, and the choice of where it runs.

An :class:`Inspector` answers lens requests and model-file checks in warm processes that
keep each run's network built. Two kinds exist, chosen once when the server starts:

- :class:`~convscope.inspection.pool.InspectionPool` (the default): spawned worker
  processes on this machine;
- :class:`~convscope.inspection.ray_inspection.RayInspection` (``--executor ray``): Ray
  actors on the cluster, with their own CPUs and a share of a GPU where there is one.

Both return the same replies and raise the same errors, so routes do not care which.

This module is imported by the server: it imports neither Keras nor Ray.
"""

from __future__ import annotations

import abc
import importlib.util
from typing import Any

from convscope.config import Settings
from convscope.errors import ConvscopeError
from convscope.inspection.requests import LensReply, LensRequest, ModelFacts, ModelFileRequest


class Inspector(abc.ABC):
    """Warm processes, somewhere, that run lenses and check model files.

    Callers call :meth:`run` and :meth:`read_model_file` from threads (never from the
    event loop); each blocks until the answer is back.
    """

    #: Where the work runs: "local" (worker processes) or "ray" (actors).
    kind: str

    @abc.abstractmethod
    def start(self) -> None:
        """Start the workers; they load Keras in the background (see :meth:`wait_ready`)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop every worker."""

    @abc.abstractmethod
    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has loaded Keras; False if that takes over ``timeout`` s."""

    @abc.abstractmethod
    def pids(self) -> list[int]:
        """Process ids of the live workers (on their machines)."""

    @abc.abstractmethod
    def _ask(self, request: object, what: str) -> object:
        """Send ``request`` to a free worker and return its answer, or raise its error."""

    def run(self, request: LensRequest) -> LensReply:
        """Run a lens request on a free worker and return its reply.

        Raises:
            InvalidInput, NotFound, UnsafeModel: The lens refused the request.
            LensFailed: The lens failed, or ran past ``settings.lens_timeout_s`` (its worker
                is then replaced), or its worker died twice.
            InspectionUnavailable: The workers are stopped, or none started in time.
        """
        reply = self._ask(request, f"lens {request.lens!r}")
        assert isinstance(reply, LensReply)
        return reply

    def read_model_file(self, request: ModelFileRequest) -> ModelFacts:
        """Have a worker check a user's ``.keras`` file and read what it holds.

        Raises:
            UnsafeModel: The file is refused; InvalidInput: it is not an image classifier.
            LensFailed, InspectionUnavailable: As for :meth:`run`.
        """
        facts = self._ask(request, "model import")
        assert isinstance(facts, ModelFacts)
        return facts


def make_inspector(
    settings: Settings, *, ray_init_options: dict[str, Any] | None = None
) -> Inspector | None:
    """The inspector that ``settings`` asks for, not yet started.

    Args:
        settings: ``inspection_workers`` (how many workers; 0: none), ``executor`` ("ray"
            puts them on the Ray cluster at ``ray_address``).
        ray_init_options: More keyword arguments for ``ray.init``, when Ray is not
            connected yet (Ray only).

    Returns:
        An :class:`~convscope.inspection.pool.InspectionPool`, a
        :class:`~convscope.inspection.ray_inspection.RayInspection`, or None when
        ``settings.inspection_workers`` is 0.

    Raises:
        ConvscopeError: Ray is asked for but not installed.
    """
    if settings.inspection_workers <= 0:
        return None
    if settings.executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise ConvscopeError("the Ray executor needs Ray: pip install 'convscope[ray]'")
        from convscope.inspection.ray_inspection import RayInspection

        return RayInspection(settings, settings.inspection_workers, init_options=ray_init_options)
    from convscope.inspection.pool import InspectionPool

    return InspectionPool(settings, settings.inspection_workers)
