"""Layer health: per-layer statistics that show a network training well or badly.

Five numbers per layer, measured as the Recorder measures them during training, by the
same function (:func:`convscope.training.snapshot.layer_statistics`) on the same images
(the first 128 of the probe set):

- **weight norm**: the size of the layer's weights (L2 norm of all of them);
- **gradient norm**: the size of the loss's gradient with respect to those weights;
- **update ratio**: how much one optimizer step changed the weights, relative to their
  size (about 1e-3 is the usual rule of thumb; much larger is unstable, much smaller is
  a layer that barely learns). It needs the weights before a step, so only the Recorder
  can measure it: it is read from the snapshot's record;
- **activation mean and spread** (standard deviation) of the layer's outputs;
- **dead fraction**: the share of a ReLU layer's units (channels) that are zero for every
  image, which no gradient can bring back.

Across snapshots these show exploding or vanishing gradients, layers that stop learning,
and ReLUs that die.

References:
    Andrej Karpathy. "CS231n: Babysitting the learning process" (update-to-weight ratio
    of about 1e-3). Stanford, 2016. https://cs231n.github.io/neural-networks-3/
    Xavier Glorot, Yoshua Bengio. "Understanding the difficulty of training deep
    feedforward neural networks". AISTATS 2010.
    Lu Lu, Yeonjong Shin, Yanhui Su, George Em Karniadakis. "Dying ReLU and
    Initialization: Theory and Numerical Examples". 2019. https://arxiv.org/abs/1903.06733

Caveat: the gradient norm is measured on 128 probe images in inference mode, not on the
training batch the optimizer saw.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras

    from convscope.training.snapshot import ModelTaps

_TAPS: weakref.WeakKeyDictionary[Any, ModelTaps] = weakref.WeakKeyDictionary()


@register_lens(
    "layer_health",
    title="Layer health",
    kind="curves",
    description=(
        "Per layer: weight and gradient norms, the update-to-weight ratio of a training "
        "step, the activations' mean and spread, and the share of dead ReLU units, as the "
        "Recorder measures them; across snapshots, how each layer trains."
    ),
)
class LayerHealth(Lens):
    """The Recorder's per-layer statistics, measured on the model as it is."""

    Params = LensParams
    scope = "probe_set"
    needs_labels = True
    uses_record = True
    references = (
        "Andrej Karpathy. CS231n: Babysitting the learning process. Stanford, 2016. "
        "https://cs231n.github.io/neural-networks-3/",
        "Glorot and Bengio. Understanding the difficulty of training deep feedforward "
        "neural networks. AISTATS 2010.",
        "Lu, Shin, Su, Karniadakis. Dying ReLU and Initialization. 2019. "
        "https://arxiv.org/abs/1903.06733",
    )

    def compute(self, model: keras.Model, inputs: LensInputs, params: LensParams) -> LensResult:
        from convscope.training.snapshot import (
            LAYER_STAT_KEYS,
            STATS_BATCH,
            ModelTaps,
            layer_statistics,
        )

        taps = _TAPS.get(model)
        if taps is None:
            taps = _TAPS[model] = ModelTaps(model)
        assert inputs.labels is not None
        images, labels = inputs.images[:STATS_BATCH], inputs.labels[:STATS_BATCH]
        measured = layer_statistics(taps, images, labels, None)
        names = [str(name) for name in measured["layer_names"].tolist()]
        columns = [measured[f"layer_{key}"] for key in LAYER_STAT_KEYS]
        recorded_ratio = _recorded_column(inputs.recorded, names, "layer_update_ratio")
        if recorded_ratio is not None:
            columns[LAYER_STAT_KEYS.index("update_ratio")] = recorded_ratio
        values = np.stack(columns, axis=1).astype(np.float32)
        defined = np.isfinite(values)
        return LensResult(
            arrays={"values": np.where(defined, values, 0).astype(np.float32), "defined": defined},
            meta={
                "layers": names,
                "statistics": list(LAYER_STAT_KEYS),
                "images": len(images),
                "update_ratio": "recorded" if recorded_ratio is not None else None,
            },
        )


def _recorded_column(recorded: Any, names: list[str], key: str) -> np.ndarray | None:
    """A statistic the Recorder stored, aligned on ``names`` (NaN for a layer it lacks)."""
    if not recorded or key not in recorded or "layer_names" not in recorded:
        return None
    by_name = dict(
        zip(
            (str(name) for name in np.asarray(recorded["layer_names"]).tolist()),
            np.asarray(recorded[key], np.float64).tolist(),
            strict=False,
        )
    )
    return np.array([by_name.get(name, np.nan) for name in names], np.float64)
