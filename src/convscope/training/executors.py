"""Which executor trains the queue: local worker processes, or tasks on a Ray cluster."""

from __future__ import annotations

import importlib.util
from typing import Any

from convscope.config import Settings
from convscope.errors import ConvscopeError
from convscope.store import Store
from convscope.training.executor import Executor, check_executor_kind
from convscope.training.jobs import DEFAULT_TRAINER, WorkerPool


def make_executor(
    settings: Settings,
    store: Store,
    *,
    trainer: str = DEFAULT_TRAINER,
    ray_init_options: dict[str, Any] | None = None,
) -> Executor:
    """The executor that ``settings.executor`` names, not yet started.

    Args:
        settings: ``executor`` ("local" or "ray"), ``workers``, ``ray_address``.
        store: The store whose queue it trains.
        trainer: The function runs train with, as ``module:function``.
        ray_init_options: More keyword arguments for ``ray.init`` (Ray only).

    Returns:
        A :class:`WorkerPool` or a :class:`~convscope.training.ray_executor.RayExecutor`.

    Raises:
        ConvscopeError: Ray is asked for but not installed.
    """
    if check_executor_kind(settings.executor) == "ray":
        if importlib.util.find_spec("ray") is None:
            raise ConvscopeError("the Ray executor needs Ray: pip install 'convscope[ray]'")
        from convscope.training.ray_executor import RayExecutor

        return RayExecutor(
            settings,
            store,
            address=settings.ray_address,
            trainer=trainer,
            init_options=ray_init_options,
        )
    return WorkerPool(settings, store, settings.workers, trainer=trainer)
