"""RunConfig: everything that defines one training run, validated field by field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from convscope.models.spec import ArchSpec

if TYPE_CHECKING:
    from convscope.datasets import DatasetInfo

Optimizer = Literal["adam", "sgd", "rmsprop", "adamw"]
WeightInit = Literal["glorot_uniform", "he_normal", "he_uniform", "lecun_normal"]

DEFAULT_SNAPSHOT_FRACTIONS = (0.125, 0.25, 0.5)


class RunConfig(BaseModel):
    """A dataset, an architecture, hyperparameters and a seed: the recipe of one run.

    ``arch`` is a preset name (``"small_cnn"``) or a full :class:`ArchSpec`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=120, description="A label for the run.")
    dataset: str = Field(default="digits", description="A dataset name from the registry.")
    train_size: int | None = Field(
        default=None, ge=10, le=1_000_000, description="Training images to use (all if empty)."
    )
    test_size: int | None = Field(
        default=None, ge=10, le=1_000_000, description="Test images to use (all if empty)."
    )
    arch: str | ArchSpec = Field(default="small_cnn", description="Preset name or block list.")
    optimizer: Optimizer = "adam"
    learning_rate: float = Field(default=3e-3, gt=0, le=10)
    batch_size: int = Field(default=32, ge=1, le=4096)
    epochs: int = Field(default=3, ge=1, le=200)
    weight_init: WeightInit = "he_normal"
    dropout: float | None = Field(
        default=None, ge=0, lt=1, description="Overrides every dropout rate of the architecture."
    )
    augment_shift: float = Field(
        default=0.0, ge=0, le=0.5, description="Random shift, as a fraction of the image size."
    )
    augment_flip: bool = Field(default=False, description="Random horizontal flips.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    probe_size: int | None = Field(
        default=None,
        ge=1,
        le=20_000,
        description="Test images followed through the run (default 1,000, or all if fewer).",
    )
    snapshot_fractions: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SNAPSHOT_FRACTIONS),
        max_length=16,
        description="Extra snapshots within the first epoch, as fractions of it.",
    )
    record_depth: bool = Field(
        default=False,
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

    Cheap: reads the dataset's description, not its images.

    Returns:
        The dataset's description.

    Raises:
        DataUnavailable: The dataset's files are not here.
        InvalidInput: ``train_size``, ``test_size`` or ``probe_size`` exceed the dataset.
    """
    from convscope.datasets import dataset_info
    from convscope.errors import DataUnavailable, InvalidInput

    info = dataset_info(config.dataset, data_dir)
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
    return info
