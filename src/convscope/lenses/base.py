"""The lens registry: the one seam through which every way of looking inside a model plugs in.

A **lens** is one way of looking inside a model (its activations, a saliency map, a linear
probe per layer...). Each lens lives in its own module of :mod:`convscope.lenses`, defines
a :class:`Lens` subclass and registers it with :func:`register_lens`; the package imports
every module, so adding a lens means adding one module (plus its test file and its page in
``docs/lenses/``), and nothing else: the Python API, the HTTP API and the web app list and
run lenses from this registry.

Lens modules import Keras (and anything that imports it) inside their functions only:
the web server lists lenses without loading TensorFlow, and only the inspection worker
runs them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from convscope.errors import InvalidInput

if TYPE_CHECKING:
    import keras

#: How the web app draws a lens's result:
#:
#: - ``activations``: one array per layer (feature maps, or unit values);
#: - ``image_map``: one ``(N, H, W)`` map per image at the input's size (attributions);
#: - ``feature_grid``: a grid of small images (filters, feature visualisations);
#: - ``images``: a ranked list of images with scores (top images, neighbours);
#: - ``curves``: one or more series over an x axis (deletion curves, statistics per snapshot);
#: - ``bars``: one value per item (accuracy per layer, importance per channel);
#: - ``matrix``: a 2-D table of values drawn as a heat map (layers by snapshots);
#: - ``table``: rows of named values (a ranking of methods);
#: - ``scatter``: 2-D positions of the images (a map of a layer's features).
LensKind = Literal[
    "activations",
    "image_map",
    "feature_grid",
    "images",
    "curves",
    "bars",
    "matrix",
    "table",
    "scatter",
]
LENS_KINDS: tuple[str, ...] = get_args(LensKind)

#: What a lens looks at: ``images`` works on the images it is given (over HTTP: the
#: chosen probe image, upload or drawing); ``probe_set`` needs a whole labelled set (over
#: HTTP: the run's probe set and its labels); ``model`` looks at the model alone (its
#: layers and weights), and the images it is given only tell the range of values the model
#: takes (over HTTP: the run's probe set, or the input range an imported model declares).
LensScope = Literal["images", "probe_set", "model"]


class LensParams(BaseModel):
    """Base of every lens's parameters: unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class LensResult:
    """What a lens returns: raw arrays (batch first, never normalised) and metadata.

    Attributes:
        arrays: Names mapped to NumPy arrays. Display code normalises and colours them.
        meta: JSON-serialisable facts about the result (the layer used, the target classes,
            a faithfulness score...).
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LensInputs:
    """The data a lens computes on, checked and converted by :func:`compute`.

    Attributes:
        images: float32 ``(N, H, W, C)``, as the model takes them.
        targets: int64 ``(N,)`` class indices, for lenses that explain a class; else None.
        labels: int64 ``(N,)`` true classes, for lenses that need them; else None.
        masks: bool ``(N, H, W)`` true object masks, where the dataset records them
            (``shapes``); else None.
        dataset_images: float32 ``(M, H, W, C)`` images of the model's data (a sample is
            enough), for lenses that use its statistics (a dataset-mean baseline); else None.
            Over HTTP, the run's probe set.
        recorded: What the Recorder stored at this moment of training (the snapshot's
            arrays: ``layer_names``, ``layer_update_ratio``...), for lenses that use it;
            None for a model outside a stored run.
    """

    images: np.ndarray
    targets: np.ndarray | None = None
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None
    dataset_images: np.ndarray | None = None
    recorded: Mapping[str, np.ndarray] | None = None


class Lens(ABC):
    """One way of looking inside a model; subclasses register with :func:`register_lens`.

    Class attributes set by the subclass:
        Params: The pydantic model of the parameters (a :class:`LensParams` subclass).
        references: Papers and sources, one string each.
        uses_target: Whether the result explains one class per image (``target``).
        needs_labels: Whether the lens needs the images' true classes (``labels``).
        needs_masks: Whether the lens needs the images' true object masks (``masks``).
        scope: ``"images"``, ``"probe_set"`` or ``"model"`` (see :data:`LensScope`).
        uses_record: Whether the lens reads the snapshot's recorded arrays
            (``inputs.recorded``) when it looks at a stored run.
        example_params: Small parameters that make a quick run (demos, contract tests).
        version: Bumped when the lens's results change, so cached results are recomputed.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    kind: ClassVar[LensKind]
    description: ClassVar[str] = ""
    Params: ClassVar[type[LensParams]] = LensParams
    references: ClassVar[tuple[str, ...]] = ()
    uses_target: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    needs_masks: ClassVar[bool] = False
    scope: ClassVar[LensScope] = "images"
    uses_record: ClassVar[bool] = False
    example_params: ClassVar[dict[str, Any]] = {}
    version: ClassVar[int] = 1

    def check_model(self, model: keras.Model) -> None:  # noqa: B027 - optional hook
        """Raise ``InvalidInput("model", reason)`` if this lens cannot look at ``model``.

        The default accepts every model.
        """

    @abstractmethod
    def compute(self, model: keras.Model, inputs: LensInputs, params: Any) -> LensResult:
        """Look at ``model`` on ``inputs`` with validated ``params`` (an instance of Params).

        Raises:
            InvalidInput: A parameter does not fit this model (an unknown layer...).
        """


@dataclass(frozen=True)
class LensInfo:
    """What the registry tells about a lens, without running it (the API's lens list)."""

    name: str
    title: str
    kind: str
    description: str
    params_schema: dict[str, Any]
    references: list[str]
    uses_target: bool
    needs_labels: bool
    scope: str


_REGISTRY: dict[str, Lens] = {}
LensType = TypeVar("LensType", bound=type[Lens])


def register_lens(
    name: str, *, title: str, kind: LensKind, description: str
) -> Callable[[LensType], LensType]:
    """Class decorator that adds a :class:`Lens` subclass to the registry.

    Args:
        name: Registry name, used by :func:`compute` and the API (``"grad_cam"``).
        title: Human title (``"Grad-CAM"``).
        kind: How the web app draws its result (see :data:`LensKind`).
        description: One or two sentences: what it shows and how to read it.

    Returns:
        The decorator, which returns the class with its name fields set.

    Raises:
        ValueError: ``name`` is already registered, or ``kind`` is unknown.
    """
    if kind not in LENS_KINDS:
        raise ValueError(f"unknown lens kind {kind!r}; choose one of {', '.join(LENS_KINDS)}")

    def decorate(cls: LensType) -> LensType:
        if name in _REGISTRY:
            raise ValueError(f"lens {name!r} is already registered")
        if not issubclass(cls.Params, LensParams):
            raise ValueError(f"lens {name!r}: Params must subclass LensParams")
        cls.name, cls.title, cls.kind, cls.description = name, title, kind, description
        _REGISTRY[name] = cls()
        return cls

    return decorate


def unregister_lens(name: str) -> None:
    """Remove a lens from the registry (for tests that register a lens of their own)."""
    _REGISTRY.pop(name, None)


def lens_names() -> list[str]:
    """Names of every registered lens, in registration order."""
    return list(_REGISTRY)


def get_lens(name: str) -> Lens:
    """The registered lens called ``name``.

    Raises:
        InvalidInput: No such lens (``field`` is ``"lens"``, with the valid names).
    """
    if name not in _REGISTRY:
        raise InvalidInput("lens", f"unknown lens {name!r}", choices=lens_names())
    return _REGISTRY[name]


def lens_info(lens: Lens) -> LensInfo:
    """Describe ``lens`` for menus and forms."""
    return LensInfo(
        name=lens.name,
        title=lens.title,
        kind=lens.kind,
        description=lens.description,
        params_schema=lens.Params.model_json_schema(),
        references=list(lens.references),
        uses_target=lens.uses_target,
        needs_labels=lens.needs_labels,
        scope=lens.scope,
    )


def parse_params(lens: Lens, params: dict[str, Any]) -> LensParams:
    """Validate parameters against ``lens.Params``.

    Raises:
        InvalidInput: The first invalid parameter, named in ``field``; other invalid ones
            are listed in the reason.
    """
    try:
        return lens.Params.model_validate(params)
    except ValidationError as error:
        errors = error.errors()

        def where(entry: Any) -> str:
            return ".".join(str(part) for part in entry["loc"]) or "params"

        reason = str(errors[0]["msg"]).removeprefix("Value error, ")
        if len(errors) > 1:
            reason += "; also invalid: " + ", ".join(where(e) for e in errors[1:])
        raise InvalidInput(where(errors[0]), reason) from None


def resolve_targets(target: Any, count: int, predicted: Callable[[], np.ndarray]) -> np.ndarray:
    """Turn ``target`` into one class index per image.

    Args:
        target: ``"predicted"``, one class index, or one index per image.
        count: Number of images.
        predicted: Returns the predicted classes; called only for ``"predicted"``.

    Returns:
        int64 ``(count,)`` class indices (not yet checked against the number of classes).

    Raises:
        InvalidInput: Anything else (``field`` is ``"target"``).
    """
    if isinstance(target, str):
        if target != "predicted":
            raise InvalidInput("target", f"expected 'predicted' or a class index, got {target!r}")
        return np.asarray(predicted(), dtype=np.int64)
    values = np.asarray(target)
    if values.dtype == bool or values.dtype.kind not in "iu" or values.ndim > 1:
        raise InvalidInput("target", "expected 'predicted', a class index, or one per image")
    if values.ndim == 0:
        values = np.full(count, int(values))
    if values.shape != (count,):
        raise InvalidInput("target", f"expected {count} class indices, got {values.shape[0]}")
    return values.astype(np.int64)


def resolve_labels(labels: Any, count: int, num_classes: int) -> np.ndarray:
    """Check true classes given to a lens that needs them.

    Raises:
        InvalidInput: Missing, wrong length, or out of range (``field`` is ``"labels"``).
    """
    if labels is None:
        raise InvalidInput("labels", "this lens needs the true class of every image (labels=...)")
    values = np.asarray(labels)
    if values.ndim != 1 or values.shape[0] != count or values.dtype.kind not in "iu":
        raise InvalidInput("labels", f"expected {count} integer class indices, one per image")
    if np.any(values < 0) or np.any(values >= num_classes):
        raise InvalidInput("labels", f"class indices must lie in 0..{num_classes - 1}")
    return values.astype(np.int64)


def resolve_masks(masks: Any, images: np.ndarray, required: bool) -> np.ndarray | None:
    """Check true object masks given to a lens: one ``(H, W)`` mask per image.

    Args:
        masks: bool-like ``(N, H, W)``, or None.
        images: The checked ``(N, H, W, C)`` images.
        required: Whether the lens needs them.

    Returns:
        bool ``(N, H, W)``, or None when no masks were given to a lens that can do without.

    Raises:
        InvalidInput: Missing when required, or of the wrong shape (``field`` is ``"masks"``).
    """
    if masks is None:
        if required:
            raise InvalidInput(
                "masks",
                "this lens needs the true object mask of every image (masks=...); among the "
                "datasets, only shapes records them",
            )
        return None
    values = np.asarray(masks)
    if values.shape != images.shape[:3]:
        raise InvalidInput(
            "masks", f"expected one {images.shape[1]} x {images.shape[2]} mask per image"
        )
    return values.astype(bool)


def resolve_dataset_images(dataset_images: Any, images: np.ndarray) -> np.ndarray | None:
    """Check the dataset sample given to a lens: images of the same shape as ``images``.

    Raises:
        InvalidInput: Wrong shape or non-finite values (``field`` is ``"dataset_images"``).
    """
    if dataset_images is None:
        return None
    try:
        values = np.asarray(dataset_images, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidInput("dataset_images", "expected a numeric array of images") from None
    if values.ndim == 3 and images.shape[-1] == 1:
        values = values[..., None]
    if values.ndim != 4 or values.shape[1:] != images.shape[1:] or len(values) == 0:
        raise InvalidInput(
            "dataset_images", f"expected a non-empty batch of images of shape {images.shape[1:]}"
        )
    if not np.all(np.isfinite(values)):
        raise InvalidInput("dataset_images", "images hold NaN or infinite values")
    return values
