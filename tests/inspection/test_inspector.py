"""The choice of inspector, and what Ray inspection actors reserve on a cluster.

The Ray actors themselves are tested on a real local Ray instance behind a real server in
tests/server/test_server_ray.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from convscope.config import Settings
from convscope.inspection.inspector import Inspector, make_inspector
from convscope.inspection.pool import InspectionPool
from convscope.inspection.ray_inspection import RayInspection
from convscope.ray_cluster import (
    INSPECTION_GPU_SHARE,
    inspection_resources,
    local_cpus,
    reserved_for_inspection,
)
from convscope.training.executor import Resources


def test_the_executor_chooses_where_lenses_run(tmp_path: Path) -> None:
    local = make_inspector(Settings(store_dir=tmp_path, inspection_workers=2))
    assert isinstance(local, InspectionPool) and local.kind == "local" and local.count == 2
    on_ray = make_inspector(Settings(store_dir=tmp_path, executor="ray", inspection_workers=3))
    assert isinstance(on_ray, RayInspection) and on_ray.kind == "ray" and on_ray.count == 3
    assert isinstance(on_ray, Inspector) and on_ray.pids() == []  # created, not started
    assert make_inspector(Settings(store_dir=tmp_path, inspection_workers=0)) is None


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ({"CPU": 8.0}, Resources(cpus=1.0, gpus=0.0)),
        # The only GPU is left to training, which takes a whole one per run.
        ({"CPU": 8.0, "GPU": 1.0}, Resources(cpus=1.0, gpus=0.0)),
        ({"CPU": 32.0, "GPU": 4.0}, Resources(cpus=1.0, gpus=INSPECTION_GPU_SHARE)),
    ],
)
def test_an_actor_takes_a_cpu_and_a_spare_gpu_share(cluster, expected) -> None:
    assert inspection_resources(cluster) == expected


def test_a_local_ray_instance_has_a_cpu_per_run_and_per_actor(tmp_path: Path) -> None:
    ray = Settings(store_dir=tmp_path, workers=2, executor="ray", inspection_workers=1)
    assert reserved_for_inspection(ray) == 1.0
    assert local_cpus(ray) == 3.0 and local_cpus(ray, cpus_per_run=2.0) == 5.0
    local = Settings(store_dir=tmp_path, workers=2, executor="local", inspection_workers=1)
    assert reserved_for_inspection(local) == 0.0 and local_cpus(local) == 2.0
