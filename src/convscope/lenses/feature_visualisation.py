"""Feature visualisation: the input that a channel (or a class) responds to most.

Start from a grey image with a little noise and change it, step after step, in the
direction that raises one channel's mean activation (gradient ascent on the input). Left
alone, the ascent finds high-frequency patterns that excite the channel without looking
like anything; the regularisers keep the image natural enough to be read:

- **jitter**: the image is shifted by a few random pixels before each step, so that a
  pattern must work wherever it lies;
- **blur** (pixel parameterisation): the image is blurred every few steps, which damps
  the highest frequencies;
- **frequency-domain decorrelation** (``fourier`` parameterisation): the ascent changes
  the image's Fourier spectrum, scaled so that every frequency moves at the same rate
  (natural images have most of their energy in low frequencies);
- **L2**: a pull towards mid grey, so that pixels the channel does not care about stay
  neutral.

References:
    Dumitru Erhan, Yoshua Bengio, Aaron Courville, Pascal Vincent. "Visualizing
    Higher-Layer Features of a Deep Network". University of Montreal, 2009.
    Chris Olah, Alexander Mordvintsev, Ludwig Schubert. "Feature Visualization".
    Distill, 2017. https://distill.pub/2017/feature-visualization/
    Jason Yosinski et al. "Understanding Neural Networks Through Deep Visualization".
    ICML Deep Learning Workshop, 2015. https://arxiv.org/abs/1506.06579

Caveat: the image shows what excites the channel *most*, not what it usually sees: a
channel can respond to several different things, and the ascent finds one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras

#: Objective values and their gradient for a batch of images in 0..1.
Objective = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
#: Random images whose mean objective is the baseline the result is compared with.
BASELINE_IMAGES = 8
#: Standard deviation of the starting noise, as a fraction of the input range.
START_NOISE = 1.0


class FeatureVisualisationParams(LensParams):
    """Which channel, and how the ascent runs."""

    layer: str | None = Field(
        default=None,
        description="The layer whose channel is maximised; empty or null: the class logits.",
    )
    channel: int = Field(
        default=0, ge=0, description="The channel (or unit, or class for the logits)."
    )
    steps: int = Field(default=128, ge=1, le=4096, description="Steps of gradient ascent.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seed of the noise and jitter.")
    parameterisation: Literal["fourier", "pixels"] = Field(
        default="fourier",
        description="fourier: ascend on the decorrelated spectrum; pixels: on the pixels.",
    )
    learning_rate: float = Field(
        default=0.05, gt=0, le=1, description="Size of a step, as a fraction of the range."
    )
    jitter: int = Field(
        default=2,
        ge=0,
        le=16,
        description="Random shift per step, in pixels (at most a tenth of the image side).",
    )
    blur_every: int = Field(
        default=4, ge=0, le=256, description="Blur every this many steps (pixels only; 0: never)."
    )
    l2: float = Field(default=3e-3, ge=0, le=1, description="Pull towards mid grey per step.")


@register_lens(
    "feature_visualisation",
    title="Feature visualisation",
    kind="feature_grid",
    description=(
        "The image a channel responds to most, found by gradient ascent from noise, kept "
        "readable by jitter, blur or a decorrelated spectrum and an L2 pull to grey: what "
        "the channel looks for, in the extreme."
    ),
)
class FeatureVisualisation(Lens):
    """Gradient ascent on the input to maximise one channel's mean activation."""

    Params = FeatureVisualisationParams
    scope = "model"
    references = (
        "Erhan, Bengio, Courville, Vincent. Visualizing Higher-Layer Features of a Deep "
        "Network. University of Montreal, 2009.",
        "Olah, Mordvintsev, Schubert. Feature Visualization. Distill, 2017. "
        "https://distill.pub/2017/feature-visualization/",
        "Yosinski et al. Understanding Neural Networks Through Deep Visualization. 2015. "
        "https://arxiv.org/abs/1506.06579",
    )
    example_params: ClassVar[dict[str, Any]] = {"channel": 1, "steps": 8}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: FeatureVisualisationParams
    ) -> LensResult:
        from convscope.models.gradients import channel_gradients
        from convscope.models.inspect import find_layer, input_shape

        layer = find_layer(model, params.layer).name if params.layer else None
        height, width, channels = (int(side or 0) for side in input_shape(model))
        low, high = value_range(inputs.images)
        rng = np.random.default_rng(params.seed)
        ascent = Ascent(params, (height, width, channels), rng)

        def objective_and_gradient(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            values, gradient = channel_gradients(
                model, low + (high - low) * unit, layer, params.channel
            )
            return values, gradient * (high - low)

        trace = np.empty(params.steps, np.float32)
        for step in range(params.steps):
            trace[step] = ascent.step(objective_and_gradient, step)
        unit = ascent.image()
        final = float(objective_and_gradient(unit[None])[0][0])
        noise = rng.random((BASELINE_IMAGES, height, width, channels), dtype=np.float32)
        baseline = objective_and_gradient(noise)[0]
        return LensResult(
            arrays={
                "image": (low + (high - low) * unit).astype(np.float32),
                "trace": trace,
            },
            meta={
                "layer": layer,
                "channel": params.channel,
                "objective": final,
                "random_objective": float(baseline.mean()),
                "input_range": [low, high],
                "parameterisation": params.parameterisation,
                "steps": params.steps,
                "seed": params.seed,
                # Zero for every image tried: the channel may be dead (a ReLU never on).
                "silent": bool(final == 0 and np.all(baseline == 0) and np.all(trace == 0)),
            },
        )


def value_range(images: np.ndarray) -> tuple[float, float]:
    """The range of input values, from reference images; 0..255 when they have none."""
    low, high = float(images.min()), float(images.max())
    return (low, high) if high > low else (0.0, 255.0)


class Ascent:
    """Gradient ascent on an image in 0..1, on its pixels or on its decorrelated spectrum.

    Args:
        params: The lens's parameters.
        shape: ``(height, width, channels)`` of the image.
        rng: The source of the starting noise and of the jitter.
    """

    def __init__(
        self,
        params: FeatureVisualisationParams,
        shape: tuple[int, int, int],
        rng: np.random.Generator,
    ) -> None:
        self.params = params
        self.shape = shape
        self.rng = rng
        height, width, _ = shape
        # A shift of a tenth of the image at most: on small images two pixels is a lot.
        self.jitter = min(params.jitter, max(1, min(height, width) // 10))
        if params.parameterisation == "fourier":
            self.scale = _spectrum_scale(height, width)
            # Real and imaginary parts of the spectrum, one per channel.
            size = (height, width // 2 + 1, shape[2])
            self.spectrum = (rng.normal(0, 1, size) + 1j * rng.normal(0, 1, size)) * START_NOISE
        else:
            self.pixels = np.clip(0.5 + rng.normal(0, START_NOISE, shape), 0, 1)

    def image(self) -> np.ndarray:
        """The current image, values in 0..1, ``(height, width, channels)``."""
        if self.params.parameterisation == "pixels":
            return self.pixels.astype(np.float32)
        return _sigmoid(self._logits()).astype(np.float32)

    def _logits(self) -> np.ndarray:
        height, width, _ = self.shape
        scaled = self.spectrum * self.scale[..., None]
        return np.fft.irfft2(scaled, s=(height, width), axes=(0, 1), norm="ortho")

    def step(self, objective_and_gradient: Objective, index: int) -> float:
        """One step of ascent; returns the objective before it."""
        params = self.params
        unit = self.image()
        shift = tuple(int(s) for s in self.rng.integers(-self.jitter, self.jitter + 1, 2))
        values, gradient = objective_and_gradient(np.roll(unit, shift, axis=(0, 1))[None])
        gradient = np.roll(gradient[0], (-shift[0], -shift[1]), axis=(0, 1)).astype(np.float64)
        # The objective's gradient sets the direction, at a fixed step size; the L2 pull
        # towards grey is added at its own size.
        pull = -params.l2 * (unit - 0.5)
        if params.parameterisation == "pixels":
            step = params.learning_rate * _normalised(gradient) + pull
            self.pixels = np.clip(self.pixels + step, 0, 1)
            # Never after the last step: the result is the image the objective last saw.
            last = index + 1 == params.steps
            if params.blur_every and (index + 1) % params.blur_every == 0 and not last:
                self.pixels = _blur(self.pixels)
        else:
            climb = _normalised(self._to_spectrum(gradient, unit))
            self.spectrum = self.spectrum + params.learning_rate * climb
            self.spectrum = self.spectrum + self._to_spectrum(pull, unit)
        return float(values[0])

    def _to_spectrum(self, gradient: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """A gradient on the image carried back to the spectrum (the chain rule through the
        sigmoid, then the adjoint of the inverse transform: the forward transform, doubled
        on the columns that stand for two frequencies)."""
        spectral = np.fft.rfft2(gradient * unit * (1 - unit), axes=(0, 1), norm="ortho")
        spectral[:, 1 : (self.shape[1] + 1) // 2] *= 2
        return spectral * self.scale[..., None]


def _spectrum_scale(height: int, width: int) -> np.ndarray:
    """1/frequency per coefficient: every frequency then changes the image equally fast."""
    frequencies = np.sqrt(
        np.fft.fftfreq(height)[:, None] ** 2 + np.fft.rfftfreq(width)[None, :] ** 2
    )
    scale = 1.0 / np.maximum(frequencies, 1.0 / max(height, width))
    # As in Lucid: 1/4 of the scale that makes the lowest frequency move one unit per step.
    return scale / scale.max() * max(height, width) / 4


def _normalised(gradient: np.ndarray) -> np.ndarray:
    """The gradient divided by its root mean square: steps of a fixed size."""
    size = float(np.sqrt(np.mean(np.abs(gradient) ** 2)))
    return gradient / size if size > 1e-12 else np.zeros_like(gradient)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * values))


def _blur(image: np.ndarray) -> np.ndarray:
    """A 3x3 binomial blur (weights 1-2-1 along each axis), edges repeated."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows = (padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4
    return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) / 4
