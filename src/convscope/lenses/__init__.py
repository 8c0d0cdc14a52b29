"""Lenses: ways of looking inside a Keras model, on any model, from Python or over HTTP.

    import convscope.lenses as lenses

    lenses.available()                                    # ["activations", ...]
    result = lenses.compute("activations", model, images)
    result.arrays["conv1"]                                # (N, h, w, c), raw values
    result.meta                                           # what was computed, and how

Every module of this package that defines a lens registers it (see
:mod:`convscope.lenses.base`); importing the package imports them all, so a new lens is one
new module. Lens modules import Keras only inside their functions, so listing lenses stays
cheap and the web server never loads TensorFlow.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.errors import InvalidInput
from convscope.lenses.base import (
    Lens,
    LensInfo,
    LensInputs,
    LensParams,
    LensResult,
    get_lens,
    lens_info,
    lens_names,
    parse_params,
    register_lens,
    resolve_dataset_images,
    resolve_labels,
    resolve_masks,
    resolve_targets,
)

if TYPE_CHECKING:
    import keras

__all__ = [
    "Lens",
    "LensInfo",
    "LensInputs",
    "LensParams",
    "LensResult",
    "available",
    "compute",
    "describe",
    "get_lens",
    "register_lens",
]


def available() -> list[str]:
    """The names of every registered lens, in registration order."""
    return lens_names()


def describe(name: str | None = None) -> list[LensInfo]:
    """Describe one lens, or every lens: title, kind, description, parameter schema.

    Raises:
        InvalidInput: Unknown lens name.
    """
    names = lens_names() if name is None else [get_lens(name).name]
    return [lens_info(get_lens(each)) for each in names]


def compute(
    name: str,
    model: keras.Model,
    images: Any,
    target: Any = "predicted",
    *,
    labels: Any = None,
    masks: Any = None,
    dataset_images: Any = None,
    recorded: Mapping[str, np.ndarray] | None = None,
    **params: Any,
) -> LensResult:
    """Look inside ``model`` with the lens ``name``.

    Args:
        name: A lens from :func:`available`.
        model: Any built Keras model with one image input and one output of class scores
            (logits, or probabilities from a final softmax, which lenses look behind).
        images: A batch ``(N, H, W, C)`` (or ``(N, H, W)`` for one channel), values as the
            model takes them.
        target: For lenses that explain a class: ``"predicted"`` (each image's predicted
            class), one class index, or one index per image. Ignored by other lenses.
        labels: The images' true classes, for lenses that need them (probes, neighbours).
        masks: The images' true object masks, bool ``(N, H, W)``, for lenses that score a
            map against them (the ``shapes`` dataset records them).
        dataset_images: Images of the model's data (a sample of a few hundred is enough),
            for lenses that use its statistics, such as integrated gradients' dataset-mean
            baseline.
        recorded: The arrays the Recorder stored at the model's snapshot, for lenses that
            read them (``layer_health`` takes the update-to-weight ratio from there).
        **params: The lens's parameters (see ``describe(name)[0].params_schema``).

    Returns:
        A :class:`LensResult`: ``.arrays`` (NumPy, batch first, raw) and ``.meta``. Lenses
        that explain a class add the classes used as ``meta["targets"]``.

    Raises:
        InvalidInput: Unknown lens, bad parameter, images or target; ``field`` names it.
    """
    lens = get_lens(name)
    parsed = parse_params(lens, params)
    from convscope.models import inspect

    lens.check_model(model)
    batch = inspect.as_images(model, images)
    classes = inspect.num_classes(model)
    targets = None
    if lens.uses_target:
        targets = resolve_targets(
            target, len(batch), lambda: inspect.logits(model, batch).argmax(axis=1)
        )
        if np.any(targets < 0) or np.any(targets >= classes):
            raise InvalidInput("target", f"class indices must lie in 0..{classes - 1}")
    checked_labels = None
    if lens.needs_labels or labels is not None:
        checked_labels = resolve_labels(labels, len(batch), classes)
    inputs = LensInputs(
        batch,
        targets,
        checked_labels,
        masks=resolve_masks(masks, batch, lens.needs_masks),
        dataset_images=resolve_dataset_images(dataset_images, batch),
        recorded=recorded,
    )
    result = lens.compute(model, inputs, parsed)
    if targets is not None:
        result.meta.setdefault("targets", targets.tolist())
    return result


def _import_lens_modules() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


_import_lens_modules()
