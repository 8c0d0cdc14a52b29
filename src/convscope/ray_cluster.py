"""The server's connection to Ray, and what its long-lived work reserves on the cluster.

Both Ray-backed parts of the server, the training executor
(:mod:`convscope.training.ray_executor`) and the inspection actors
(:mod:`convscope.inspection.ray_inspection`), connect through :func:`connect`: the first
to start connects (to ``settings.ray_address``, or by starting a local Ray instance) and
owns the connection; the other finds it made. A local instance gets a CPU for each
training slot *and* for each inspection actor, so that a warm actor never takes a
training slot.

This module imports Ray only inside :func:`connect`.
"""

from __future__ import annotations

import logging
from typing import Any

from convscope.config import Settings
from convscope.training.executor import Resources

#: CPU cores each inspection actor reserves for its lifetime.
INSPECTION_CPUS = 1.0
#: The share of one GPU each inspection actor takes, on a cluster with several GPUs.
INSPECTION_GPU_SHARE = 0.25


def inspection_resources(cluster: dict[str, float]) -> Resources:
    """What one inspection actor reserves: a CPU, and a share of a GPU where one is spare.

    Training tasks take a whole GPU each (:func:`convscope.training.ray_executor.run_resources`).
    On a cluster with a single GPU the actors stay on CPUs, so that training keeps it; with
    several, the actors share one of them (a quarter each).

    Args:
        cluster: ``ray.cluster_resources()``.

    Returns:
        The resources of one actor.
    """
    gpus = INSPECTION_GPU_SHARE if cluster.get("GPU", 0) >= 2 else 0.0
    return Resources(cpus=INSPECTION_CPUS, gpus=gpus)


def reserved_for_inspection(settings: Settings) -> float:
    """CPU cores the inspection actors of a server with ``settings`` hold on the cluster."""
    if settings.executor != "ray":
        return 0.0
    return max(0, settings.inspection_workers) * INSPECTION_CPUS


def local_cpus(settings: Settings, cpus_per_run: float = 1.0) -> float:
    """CPUs of a local Ray instance: one slot per training worker, plus the actors' CPUs."""
    return max(1, settings.workers) * cpus_per_run + reserved_for_inspection(settings)


def connect(
    settings: Settings,
    init_options: dict[str, Any] | None = None,
    *,
    cpus_per_run: float = 1.0,
) -> tuple[Any, bool]:
    """Connect this process to Ray, unless it already is.

    Args:
        settings: ``ray_address`` (None starts a local instance of :func:`local_cpus`).
        init_options: More keyword arguments for ``ray.init``.
        cpus_per_run: CPU cores each training run reserves (sizes a local instance).

    Returns:
        The ``ray`` module, and whether this call connected (the caller then calls
        ``ray.shutdown()`` when it stops).
    """
    import ray

    if ray.is_initialized():
        return ray, False
    options: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        **(init_options or {}),
    }
    if settings.ray_address:
        options["address"] = settings.ray_address
    else:
        options.setdefault("num_cpus", local_cpus(settings, cpus_per_run))
    ray.init(**options)
    return ray, True
