"""The randomisation sanity check: does an attribution map change when the model does?

The model's weights are replaced by random ones layer by layer, from the logits down
(cascading: once a layer is random it stays random), and the attribution map is computed
again after each step. A method that explains the *model* must give a different map once
the learned weights are gone; a method whose map barely changes (a high Spearman rank
correlation with the original map even when every layer is random) explains the image, not
the model, and is flagged. The edge detector, which never looks at the model, is the
control that always stays put.

Each layer's weights are redrawn from a normal distribution with the same mean and
standard deviation as the trained weights: the scale stays, the learned structure goes.
The model's own weights are restored afterwards.

References:
    Julius Adebayo, Justin Gilmer, Michael Muelly, Ian Goodfellow, Moritz Hardt, Been Kim.
    "Sanity Checks for Saliency Maps". NeurIPS 2018. https://arxiv.org/abs/1810.03292

Caveat: passing the check is necessary, not sufficient: a map that changes with the model
can still be a poor explanation of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.lenses._attribution import WrapperParams, attribution_maps, check_spatial, wrapped
from convscope.lenses._maps import spearman
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras


class SanityCheckParams(WrapperParams):
    """The attribution lens to check, and the flagging threshold."""

    threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "A map whose rank correlation with the original stays at or above this once every "
            "layer is random is flagged as not depending on the model."
        ),
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the random weights.")


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers with trainable weights, from the output down (the order of randomisation)."""
    return [layer for layer in reversed(model.layers) if layer.trainable_weights]


def random_weights(layer: keras.layers.Layer, seed: int, index: int) -> list[np.ndarray]:
    """New values for ``layer.weights``: trainable ones redrawn from a normal of the same
    mean and spread, the others (batch-normalisation statistics) unchanged."""
    rng = np.random.default_rng([seed, index])
    values = []
    for weight in layer.weights:
        current = np.asarray(weight.numpy())
        if weight.trainable:
            drawn = rng.normal(current.mean(), current.std(), current.shape)
            values.append(drawn.astype(current.dtype))
        else:
            values.append(current)
    return values


@contextmanager
def weights_restored(layers: list[keras.layers.Layer]) -> Iterator[None]:
    """Put the layers' weights back as they were on leaving, whatever happened inside."""
    saved = [layer.get_weights() for layer in layers]
    try:
        yield
    finally:
        for layer, weights in zip(layers, saved, strict=True):
            layer.set_weights(weights)


@register_lens(
    "sanity_check",
    title="Randomisation sanity check",
    kind="curves",
    description=(
        "An attribution lens run again as the model's layers are replaced by random ones, "
        "from the top down, with the rank correlation to the original map at each step. A "
        "map that stays the same on a random model does not explain the model."
    ),
)
class SanityCheck(Lens):
    """Cascading model-parameter randomisation (Adebayo et al. 2018)."""

    Params = SanityCheckParams
    uses_target = True
    example_params: ClassVar[dict[str, Any]] = {"lens": "saliency"}
    references = (
        "Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. Sanity Checks for Saliency Maps. "
        "NeurIPS 2018. https://arxiv.org/abs/1810.03292",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: SanityCheckParams
    ) -> LensResult:
        name, lens_params = wrapped(params)
        layers = weighted_layers(model)
        original, inner_meta = attribution_maps(name, lens_params, model, inputs)
        steps = [original]
        with weights_restored(layers):
            for index, layer in enumerate(layers):
                layer.set_weights(random_weights(layer, params.seed, index))
                steps.append(attribution_maps(name, lens_params, model, inputs)[0])
        maps = np.stack(steps, axis=1)  # (N, layers + 1, H, W)
        correlation = np.array(
            [[spearman(row[0], step) for step in row] for row in maps], dtype=np.float32
        )
        absolute = np.array(
            [[spearman(np.abs(row[0]), np.abs(step)) for step in row] for row in maps],
            dtype=np.float32,
        )
        model_independent = np.abs(correlation[:, -1]) >= params.threshold
        return LensResult(
            arrays={"maps": maps, "spearman": correlation, "spearman_abs": absolute},
            meta={
                **{key: value for key, value in inner_meta.items() if not isinstance(value, list)},
                "lens": name,
                "lens_params": lens_params,
                "stages": ["original", *[str(layer.name) for layer in layers]],
                "model_independent": model_independent.tolist(),
                "threshold": params.threshold,
            },
        )
