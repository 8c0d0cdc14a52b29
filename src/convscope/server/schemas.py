"""Pydantic models of every JSON body the API returns (docs/api.md is the contract)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from convscope.server.encoding import WireDtype

RunStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]


class ArrayPayload(BaseModel):
    """A numeric array: little-endian bytes in base64, with dtype and shape."""

    dtype: WireDtype
    shape: list[int]
    data: str = Field(description="base64 of the little-endian bytes, row-major")


class Health(BaseModel):
    """The server is up; ``workers`` is how many runs can train at once now."""

    status: Literal["ok"] = "ok"
    version: str
    workers: int
    executor: str | None = Field(
        default=None, description='Where runs train: "local" or "ray"; null without one.'
    )


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
    sweep_id: str | None = Field(default=None, description="The sweep the run belongs to")


class SweepPoint(BaseModel):
    """Validation accuracy of a run at one snapshot."""

    epoch: float
    val_accuracy: float | None


class SweepRunOut(BaseModel):
    """One run of a sweep: the values it tried and how it did."""

    run: RunOut
    values: dict[str, Any] = Field(description="The varied fields' values of this run")
    final_accuracy: float | None = Field(
        description="Validation accuracy at its last snapshot; null before the first"
    )
    curve: list[SweepPoint]
    stopped_early: str | None = Field(description="Why the sweep's rule stopped it, if it did")


class SweepSummary(BaseModel):
    """A sweep in a list: what it varies and how far it is."""

    id: str
    name: str | None
    created_at: str
    method: str
    varied: list[str]
    num_runs: int
    finished_runs: int
    best_accuracy: float | None


class SweepOut(SweepSummary):
    """A sweep with its spec and every run; ``best`` lists run ids, best final accuracy first."""

    spec: dict[str, Any]
    runs: list[SweepRunOut]
    best: list[str]


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


class LensOut(BaseModel):
    """One lens of the registry: what it shows, how the web app draws it, its parameters."""

    name: str
    title: str
    kind: str = Field(description="how to draw the result: activations, image_map, bars...")
    description: str
    params_schema: dict[str, Any] = Field(description="JSON schema of the lens's parameters")
    references: list[str]
    uses_target: bool = Field(description="whether the result explains one class (target)")
    needs_labels: bool
    scope: Literal["images", "probe_set", "model"] = Field(
        description="images: looks at the chosen image; probe_set: at the run's probe set; "
        "model: at the model alone (its layers and weights)"
    )


class ProbeImageRef(BaseModel):
    """A probe image of the run, by its position in the probe set."""

    model_config = ConfigDict(extra="forbid")

    probe: int = Field(ge=0, le=1_000_000)


class UploadImageRef(BaseModel):
    """An image uploaded with ``POST /api/uploads/images``, by its id; it is converted to
    the model's input shape (the conversion is reported in the result's ``meta.image``)."""

    model_config = ConfigDict(extra="forbid")

    upload: str = Field(pattern=r"^[0-9a-f]{16}$", description="the id the upload returned")


#: Largest side of a drawn image, in pixels.
MAX_PIXELS_SIDE = 1024


class PixelsImage(BaseModel):
    """An image given as pixel values 0..255: rows of values (one channel) or of
    per-channel values; it must have the model's input size."""

    model_config = ConfigDict(extra="forbid")

    pixels: (
        list[Annotated[list[float], Field(max_length=MAX_PIXELS_SIDE)]]
        | list[
            Annotated[
                list[Annotated[list[float], Field(min_length=1, max_length=64)]],
                Field(max_length=MAX_PIXELS_SIDE),
            ]
        ]
    ) = Field(min_length=1, max_length=MAX_PIXELS_SIDE)


def _image_kind(value: Any) -> str | None:
    # The key a client gives says which kind of image it means, so that a mistake is
    # reported against that kind only.
    if isinstance(value, dict):
        kinds = {"probe": "ProbeImageRef", "pixels": "PixelsImage", "upload": "UploadImageRef"}
        return next((kind for key, kind in kinds.items() if key in value), None)
    return type(value).__name__


ImageRef = Annotated[
    Annotated[ProbeImageRef, Tag("ProbeImageRef")]
    | Annotated[PixelsImage, Tag("PixelsImage")]
    | Annotated[UploadImageRef, Tag("UploadImageRef")],
    Discriminator(
        _image_kind,
        custom_error_type="image_kind",
        custom_error_message="give {probe: index}, {upload: id} or {pixels: [[...]]}",
    ),
]


class LensRequestBody(BaseModel):
    """Which snapshot, image and class a lens looks at, and its parameters."""

    model_config = ConfigDict(extra="forbid")

    snapshot: int | Literal["last", "all"] | list[int] = Field(
        default="last",
        description="a snapshot index, 'last', 'all', or a list of indices (results then "
        "gain a leading snapshot axis)",
    )
    image: ImageRef | None = Field(
        default=None,
        description="the image, for lenses of scope 'images': {probe: i}, {upload: id} or "
        "{pixels: [[...]]}",
    )
    target: Literal["predicted"] | Annotated[int, Field(ge=0)] = Field(
        default="predicted", description="the class to explain: 'predicted' or a class index"
    )
    params: dict[str, Any] = Field(default_factory=dict)


class LensOutput(BaseModel):
    """A lens's result: named arrays (raw values, batch first) and metadata."""

    lens: str
    kind: str
    arrays: dict[str, ArrayPayload]
    meta: dict[str, Any]


class UploadedImage(BaseModel):
    """An uploaded image: its id (for ``{"image": {"upload": id}}``) and its size."""

    id: str
    width: int
    height: int


class DepthOut(BaseModel):
    """Probe and k-NN accuracy per layer (rows, raw pixels first) and snapshot (columns)."""

    layers: list[str] = Field(description="rows: 'input' (the raw pixels), then every layer")
    same_as: dict[str, str] = Field(
        description="rows whose features repeat an earlier row's (a flatten, a dropout)"
    )
    snapshots: list[int]
    epochs: list[float]
    probe: ArrayPayload = Field(
        description="linear-probe accuracy, (layers, snapshots), NaN: not yet"
    )
    knn: ArrayPayload = Field(description="leave-one-out k-NN accuracy, (layers, snapshots)")
    network_probe: list[float | None] = Field(
        description="the network's own accuracy on the probes' test half, per snapshot"
    )
    network_knn: list[float | None] = Field(
        description="the network's own accuracy on the whole probe set, per snapshot"
    )
    pending: list[int] = Field(description="snapshots not measured yet: ask again")
    unavailable: list[int] = Field(description="snapshots without weights: never measured")
    settings: dict[str, Any] = Field(description="how the accuracies were measured")
    rule: str = Field(description="how each layer's features were reduced")


class DepthMapsOut(BaseModel):
    """Every layer's 2-D map of the probe images at the snapshots measured so far."""

    layers: list[str]
    same_as: dict[str, str] = Field(description="rows whose map repeats an earlier row's")
    snapshots: list[int]
    epochs: list[float]
    positions: ArrayPayload = Field(description="(snapshots, layers, images, 2), aligned")
    pending: list[int]
    unavailable: list[int]


class FactLink(BaseModel):
    """Where the web app shows a fact: a view of the run, and what it opens there."""

    tab: Literal["training", "layers", "explain", "depth"]
    snapshot: int | None = Field(default=None, description="the snapshot index to show")
    image: int | None = Field(default=None, description="the probe image to show")
    layer: str | None = Field(default=None, description="the layer to show")


class FactOut(BaseModel):
    """One sentence of an answer, as numbers: the web app words it in the reader's language."""

    key: str = Field(description="what the sentence says, e.g. 'learn.milestone'")
    values: dict[str, Any] = Field(description="the numbers and names the sentence shows")
    link: FactLink | None = Field(description="the view that shows it")
    compute: dict[str, Any] | None = Field(
        description="for missing data, what computes it: a lens request "
        "({lens, snapshot, image, target, params}) or {depth: true}"
    )


class AnswerOut(BaseModel):
    """The answer to one of the three questions: facts in reading order."""

    question: Literal["learn", "look", "decide"]
    facts: list[FactOut]


class QuestionsOut(BaseModel):
    """The three questions about a run, answered from its own data."""

    snapshot: int | None = Field(description="the last snapshot; None before the first")
    image: int | None = Field(description="the probe image of 'What did it look at?'")
    answers: list[AnswerOut]
