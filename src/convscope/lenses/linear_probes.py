"""Linear probes: at which layer a straight line can separate the classes.

For every layer (and the raw pixels first), a multinomial logistic regression (the
*probe*) learns to tell the classes from that layer's features on one half of the images
and is tested on the other half; its test accuracy says how *linearly decodable* the
classes are at that depth. The network's own accuracy on the same test half is in
``meta``: a layer whose probe reaches it holds, in a linearly readable form, what the
network's decision needs.

The halves: within each class, a permutation drawn with ``numpy.random.default_rng(seed)``
(classes in increasing order) puts the first half, rounded down, in training. Features
are centred on the training half and scaled so its rows have unit mean square norm; the
probe minimises the mean cross-entropy plus ``regularization / 2 * |W|^2`` by L-BFGS.

Reference:
    Guillaume Alain, Yoshua Bengio. "Understanding intermediate layers using linear
    classifier probes". ICLR 2017 workshop. https://arxiv.org/abs/1610.01644

Caveat: a probe shows what is *decodable* at a layer, not what the network *uses*: the
network may ignore information a probe finds, and a probe trained on few images
underestimates what a layer holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.depth.measures import PROBE_REGULARIZATION
from convscope.lenses._depth import (
    REFERENCE_PROBES,
    SampledParams,
    features_meta,
    features_of,
    sampled,
)
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras


class LinearProbesParams(SampledParams):
    """The probes' penalty and the seed of their halves."""

    regularization: float = Field(
        default=PROBE_REGULARIZATION,
        gt=0,
        le=100,
        description="Strength of the probes' L2 penalty (features at unit mean square norm).",
    )
    seed: int = Field(
        default=0, ge=0, le=2**31 - 1, description="Seed of the split into training and test."
    )


@register_lens(
    "linear_probes",
    title="Linear probes per layer",
    kind="bars",
    description=(
        "For every layer, from the raw pixels to the logits, the test accuracy of a "
        "logistic regression trained on half of the probe images to tell their classes "
        "from that layer's features: how linearly decodable the classes are at that depth, "
        "beside the network's own accuracy."
    ),
)
class LinearProbes(Lens):
    """``arrays["accuracy"]``: float32 ``(layers,)``; ``meta["network_accuracy"]``."""

    Params = LinearProbesParams
    references = (REFERENCE_PROBES,)
    needs_labels = True
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {"max_features": 64}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: LinearProbesParams
    ) -> LensResult:
        from convscope.depth.measures import probe_accuracy, probe_split
        from convscope.models import inspect

        inputs = sampled(inputs, params)
        assert inputs.labels is not None
        labels = inputs.labels
        train = probe_split(labels, params.seed)
        classes = inspect.num_classes(model)
        features = features_of(model, inputs, params)
        accuracy = np.array(
            features.each(
                lambda values: probe_accuracy(values, labels, train, classes, params.regularization)
            ),
            dtype=np.float32,
        )
        predicted = features.logits.argmax(axis=1)
        network = float(np.mean(predicted[~train] == labels[~train]))
        return LensResult(
            arrays={"accuracy": accuracy},
            meta={
                **features_meta(features),
                "regularization": params.regularization,
                "seed": params.seed,
                "sample_size": params.sample_size,
                "train_images": int(train.sum()),
                "test_images": int((~train).sum()),
                "network_accuracy": network,
            },
        )
