"""Pydantic models of every JSON body the API returns (docs/api.md is the contract)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convscope.server.encoding import WireDtype

RunStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]


class ArrayPayload(BaseModel):
    """A numeric array: little-endian bytes in base64, with dtype and shape."""

    dtype: WireDtype
    shape: list[int]
    data: str = Field(description="base64 of the little-endian bytes, row-major")


class Health(BaseModel):
    """The server is up; ``workers`` is how many worker processes are alive."""

    status: Literal["ok"] = "ok"
    version: str
    workers: int


class DatasetOut(BaseModel):
    """One dataset of the registry, as known without loading it."""

    name: str
    title: str
    description: str
    image_shape: list[int] | None
    num_classes: int | None
    class_names: list[str] | None
    available: bool
    location: str | None
    reason: str | None
    train_count: int | None
    test_count: int | None


class PresetOut(BaseModel):
    """A named architecture and its full spec."""

    name: str
    description: str
    spec: dict[str, Any]


class ConfigInfo(BaseModel):
    """The default RunConfig and its JSON schema, for building a form."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    default: dict[str, Any]
    json_schema: dict[str, Any] = Field(alias="schema")


class BlockOrder(BaseModel):
    """Which blocks need an image-shaped tensor, and which make it a vector."""

    needs_image: list[str]
    makes_vector: list[str]


class Architectures(BaseModel):
    """Presets, the JSON schema of each block type, the block order rule, the RunConfig form."""

    presets: list[PresetOut]
    block_types: dict[str, dict[str, Any]]
    block_order: BlockOrder
    config: ConfigInfo


class Metrics(BaseModel):
    """Loss and accuracy on the training and validation sets (null when not measured)."""

    train_loss: float | None = None
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None


class Progress(BaseModel):
    """Where a running run is: epoch and step of ``epochs`` x ``steps_per_epoch``."""

    epoch: float
    step: int
    steps_per_epoch: int
    epochs: int


class RunOut(BaseModel):
    """One run: its config, its state and where it is."""

    id: str
    name: str | None
    status: RunStatus
    source: str
    config: dict[str, Any]
    class_names: list[str] | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    final_metrics: Metrics | None
    error: str | None
    num_snapshots: int
    queue_position: int | None = Field(
        description="1 for the next run to start; null if not queued"
    )
    progress: Progress | None


class SnapshotSummary(BaseModel):
    """One recorded moment of a run; ``epoch`` is fractional inside the first epoch."""

    index: int
    epoch: float
    step: int
    metrics: Metrics


class LayerStats(BaseModel):
    """Per-layer statistics at one snapshot; null where a statistic does not apply."""

    name: str
    weight_norm: float | None
    grad_norm: float | None
    update_ratio: float | None
    activation_mean: float | None
    activation_std: float | None
    dead_fraction: float | None


class SnapshotDetail(SnapshotSummary):
    """A snapshot with the probe set's predictions, map positions and layer statistics."""

    predictions: ArrayPayload
    probabilities: ArrayPayload
    positions: ArrayPayload
    confusion: list[list[int]]
    layers: list[LayerStats]


class BatchCurves(BaseModel):
    """Per-batch training curves, one entry per recorded batch."""

    step: ArrayPayload
    epoch: ArrayPayload
    loss: ArrayPayload
    accuracy: ArrayPayload


class Curves(BaseModel):
    """Batch curves and the snapshots' metrics."""

    batches: BatchCurves
    snapshots: list[SnapshotSummary]


class ProbeOut(BaseModel):
    """The probe set: labels and how to cut tiles out of the atlas."""

    count: int
    labels: list[int]
    class_names: list[str] | None
    tile_width: int
    tile_height: int
    channels: int = Field(description="channels of the original images; the atlas is RGB")
    columns: int
    atlas_url: str
    evaluated: int | None = Field(
        default=None,
        description="validation images measured at every snapshot (null: not recorded)",
    )
    validation_size: int | None = Field(
        default=None, description="images in the run's validation set (null: not recorded)"
    )
    images_digest: str = Field(
        description="hash of the probe images and labels: equal digests, same probe set"
    )


class Timeline(BaseModel):
    """Each probe image across snapshots: correctness, true probability, forgetting."""

    epochs: list[float]
    true_probability: ArrayPayload
    correct: ArrayPayload
    forgetting_events: list[int]
    first_learned: list[int]
    hardest: list[int]
