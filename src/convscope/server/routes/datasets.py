"""GET /api/datasets: the dataset registry, described without loading anything."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from convscope.datasets import list_datasets
from convscope.server.schemas import DatasetOut

router = APIRouter(tags=["datasets"])


@router.get("/datasets", response_model=list[DatasetOut])
def datasets() -> list[DatasetOut]:
    """Every dataset, whether its files are here, and what it holds when known."""
    return [DatasetOut.model_validate(dataclasses.asdict(info)) for info in list_datasets()]
