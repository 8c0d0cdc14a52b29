"""RunConfig: everything that defines one training run, validated field by field."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator

from convscope.models.spec import ArchSpec

if TYPE_CHECKING:
    from convscope.datasets import DatasetInfo

Optimizer = Literal["adam", "sgd", "rmsprop", "adamw"]
WeightInit = Literal["glorot_uniform", "he_normal", "he_uniform", "lecun_normal"]

DEFAULT_SNAPSHOT_FRACTIONS = (0.125, 0.25, 0.5)
#: Snapshots in every epoch, evenly spaced: with the early ones, a film of 8 frames for the
#: default 3-epoch experiment (1/8, 1/4, 1/2, 1, 1 1/2, 2, 2 1/2, 3). Each snapshot measures
#: 2,000 validation images; 4 per epoch (13 frames) cost about twice as much (bench/).
DEFAULT_SNAPSHOTS_PER_EPOCH = 2
#: Test images followed through a run, or all of them when fewer.
DEFAULT_PROBE_SIZE = 1000
#: Validation images measured at every snapshot (the probe set among them).
DEFAULT_EVAL_SIZE = 2000


class RunConfig(BaseModel):
    """A dataset, an architecture, hyperparameters and a seed: the recipe of one run.

    ``arch`` is a preset name (``"small_cnn"``) or a full :class:`ArchSpec`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=120, description="A label for the run.")
    dataset: str = Field(default="digits", description="A dataset name from the registry.")
    dataset_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        max_length=16,
        description=(
            "Options of the dataset (GET /api/datasets lists them); options that name a "
            "path on the server (a folder dataset's path) are refused over HTTP."
        ),
    )
    train_size: int | None = Field(
        default=None,
        ge=10,
        le=1_000_000,
        strict=True,
        description="Training images to use (all if empty).",
    )
    test_size: int | None = Field(
        default=None,
        ge=10,
        le=1_000_000,
        strict=True,
        description="Test images to use (all if empty).",
    )
    arch: str | ArchSpec = Field(default="small_cnn", description="Preset name or block list.")
    optimizer: Optimizer = "adam"
    learning_rate: float = Field(default=3e-3, gt=0, le=10, strict=True)
    batch_size: int = Field(default=32, ge=1, le=4096, strict=True)
    epochs: int = Field(default=3, ge=1, le=200, strict=True)
    weight_init: WeightInit = "he_normal"
    dropout: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        strict=True,
        description="Overrides every dropout rate of the architecture.",
    )
    augment_shift: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        strict=True,
        description="Random shift, as a fraction of the image size.",
    )
    augment_flip: bool = Field(default=False, strict=True, description="Random horizontal flips.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, strict=True)
    probe_size: int | None = Field(
        default=None,
        ge=1,
        le=20_000,
        strict=True,
        description="Test images followed through the run (default 1,000, or all if fewer).",
    )
    snapshot_fractions: list[Annotated[float, Strict()]] = Field(
        default_factory=lambda: list(DEFAULT_SNAPSHOT_FRACTIONS),
        max_length=16,
        description="Extra snapshots within the first epoch, as fractions of it.",
    )
    snapshots_per_epoch: int = Field(
        default=DEFAULT_SNAPSHOTS_PER_EPOCH,
        ge=1,
        le=20,
        strict=True,
        description="Snapshots spread evenly over every epoch, the epoch's end included.",
    )
    eval_size: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        strict=True,
        description=(
            "Validation images measured at every snapshot: the probe images and a "
            f"class-stratified sample of the rest (default {DEFAULT_EVAL_SIZE:,}, or all "
            "if fewer)."
        ),
    )
    record_depth: bool = Field(
        default=False,
        strict=True,
        description="After each snapshot, measure how well every layer separates the "
        "classes (linear-probe and k-NN accuracy on the probe set).",
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        from convscope.datasets import dataset_names

        names = dataset_names()
        if value not in names:
            raise ValueError(f"unknown dataset {value!r}; valid choices: {', '.join(names)}")
        return value

    @field_validator("dataset_options")
    @classmethod
    def _options_of_the_dataset(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        dataset = info.data.get("dataset")
        if dataset is None or not value:  # the dataset itself is invalid, or no options
            return value
        from convscope.datasets import parse_dataset_options
        from convscope.errors import InvalidInput

        try:
            return parse_dataset_options(dataset, value)
        except InvalidInput as error:
            raise ValueError(str(error)) from None

    @field_validator("arch")
    @classmethod
    def _known_preset(cls, value: str | ArchSpec) -> str | ArchSpec:
        if isinstance(value, str):
            from convscope.models.presets import preset_names

            names = preset_names()
            if value not in names:
                raise ValueError(
                    f"unknown architecture {value!r}; valid choices: {', '.join(names)}"
                )
        return value

    @field_validator("snapshot_fractions")
    @classmethod
    def _fractions_inside_first_epoch(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0 < fraction < 1:
                raise ValueError("each fraction must lie strictly between 0 and 1")
        return sorted(set(value))

    def arch_spec(self) -> ArchSpec:
        """The architecture as a full spec, resolving a preset name."""
        if isinstance(self.arch, ArchSpec):
            return self.arch
        from convscope.models.presets import get_preset

        return get_preset(self.arch)

    def to_json_dict(self) -> dict[str, Any]:
        """A plain JSON-serialisable dict of the config."""
        return self.model_dump(mode="json")


def check_against_data(config: RunConfig, data_dir: str | None = None) -> DatasetInfo:
    """Check what only the dataset can tell, before a run is created.

    Cheap: reads the dataset's description, not its images. Once the image shape and the
    classes are known, the network's size is counted against the limits too.

    Returns:
        The dataset's description.

    Raises:
        DataUnavailable: The dataset's files are not here.
        InvalidInput: ``train_size``, ``test_size`` or ``probe_size`` exceed the dataset,
            or ``eval_size`` is smaller than the probe set it must hold.
        LimitExceeded: The dataset or the network is larger than a limit of ``Settings``.
    """
    from convscope.datasets import dataset_info
    from convscope.errors import DataUnavailable, InvalidInput

    info = dataset_info(config.dataset, data_dir, **config.dataset_options)
    if not info.available:
        raise DataUnavailable(info.reason or f"dataset {config.dataset} is not available here")
    if info.train_count is not None and config.train_size and config.train_size > info.train_count:
        raise InvalidInput(
            "train_size", f"{config.train_size} exceeds the {info.train_count} training images"
        )
    test_count = info.test_count
    if test_count is not None and config.test_size:
        if config.test_size > test_count:
            raise InvalidInput(
                "test_size", f"{config.test_size} exceeds the {test_count} test images"
            )
        test_count = config.test_size
    if test_count is not None and config.probe_size and config.probe_size > test_count:
        raise InvalidInput(
            "probe_size", f"{config.probe_size} is larger than the test set ({test_count} images)"
        )
    probe = config.probe_size or min(DEFAULT_PROBE_SIZE, test_count or DEFAULT_PROBE_SIZE)
    if config.eval_size is not None and config.eval_size < probe:
        raise InvalidInput(
            "eval_size",
            f"{config.eval_size} is smaller than the probe set ({probe} images), "
            "which is always measured",
        )
    _check_sizes(config, info)
    return info


def _check_sizes(config: RunConfig, info: DatasetInfo) -> None:
    from convscope.config import Settings
    from convscope.errors import PayloadTooLarge
    from convscope.models.estimate import check_size, estimate_spec

    if info.image_shape is None:
        return
    if info.train_count is not None and info.test_count is not None:
        total = (info.train_count + info.test_count) * math.prod(info.image_shape)
        if total > Settings.max_dataset_bytes:
            raise PayloadTooLarge(
                "dataset_options",
                f"the dataset holds {total / 2**20:,.0f} MiB of pixels",
                limit="max_dataset_bytes",
                maximum=Settings.max_dataset_bytes,
            )
    if info.num_classes is not None:
        estimate = estimate_spec(
            config.arch_spec(), info.image_shape, info.num_classes, dropout=config.dropout
        )
        check_size(estimate, batch_size=config.batch_size)
