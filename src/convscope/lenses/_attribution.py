"""What attribution lenses share, and the parameters of lenses that wrap one.

An **attribution lens** answers "which pixels made the model give this class?" with one
signed map per image, ``arrays["map"]``, float32 ``(N, H, W)`` at the input's size, raw
(display code normalises). Every such lens subclasses :class:`AttributionLens`, so the
lenses that judge or transform a map (SmoothGrad, faithfulness curves, the pointing game,
the randomisation sanity check) find them in the registry and run any of them by name,
from Python and over HTTP alike: a wrapper takes the attribution lens's name (``lens``)
and its parameters (``lens_params``), and never copies its code.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from convscope.errors import InvalidInput
from convscope.lenses.base import (
    Lens,
    LensInputs,
    LensParams,
    LensResult,
    get_lens,
    lens_names,
    parse_params,
)

if TYPE_CHECKING:
    import keras


class AttributionLens(Lens):
    """A lens that returns one attribution map per image for its target class.

    Subclasses implement :meth:`attribute`; :meth:`compute` wraps its map as
    ``arrays["map"]``.

    Class attributes:
        gradient_based: Whether the map is computed from the model's gradients (such lenses
            can be wrapped by SmoothGrad).
        model_independent: Whether the map ignores the model on purpose (a control).
    """

    uses_target = True
    gradient_based: ClassVar[bool] = False
    model_independent: ClassVar[bool] = False

    @abstractmethod
    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The maps, float32 ``(N, H, W)``, and metadata (JSON-serialisable).

        ``inputs.targets`` holds one class per image.
        """

    def compute(self, model: keras.Model, inputs: LensInputs, params: Any) -> LensResult:
        maps, meta = self.attribute(model, inputs, params)
        return LensResult(arrays={"map": np.asarray(maps, dtype=np.float32)}, meta=meta)


def attribution_lenses(*, gradient_only: bool = False) -> list[str]:
    """Names of the registered attribution lenses, in registration order.

    Args:
        gradient_only: Keep only lenses computed from gradients.
    """
    return [
        name
        for name in lens_names()
        if isinstance(lens := get_lens(name), AttributionLens)
        and (lens.gradient_based or not gradient_only)
    ]


def attribution_lens(name: str, *, field: str = "lens") -> AttributionLens:
    """The attribution lens ``name``.

    Raises:
        InvalidInput: No attribution lens has that name (``choices`` lists them).
    """
    choices = attribution_lenses()
    if name not in choices:
        raise InvalidInput(field, f"{name!r} is not an attribution lens", choices=choices)
    lens = get_lens(name)
    assert isinstance(lens, AttributionLens)
    return lens


def attribution_maps(
    name: str, params: dict[str, Any], model: keras.Model, inputs: LensInputs
) -> tuple[np.ndarray, dict[str, Any]]:
    """Run the attribution lens ``name`` with ``params`` (validated here) on ``inputs``.

    Returns:
        The maps, float32 ``(N, H, W)``, and the lens's metadata.
    """
    lens = attribution_lens(name)
    lens.check_model(model)
    maps, meta = lens.attribute(model, inputs, parse_params(lens, params))
    return np.asarray(maps, dtype=np.float32), meta


def _schema_with_choices(schema: dict[str, Any], model: type[WrapperParams]) -> None:
    # The registry is complete by the time a schema is asked for (module import fills it).
    schema["properties"]["lens"]["enum"] = model.lens_choices()


class WrapperParams(LensParams):
    """Parameters of a lens that runs an attribution lens: which one, with which parameters.

    Subclasses narrow :meth:`lens_choices` and set the default ``lens``.
    """

    model_config = ConfigDict(json_schema_extra=_schema_with_choices)

    lens: str = Field(default="saliency", description="The attribution lens to run.")
    lens_params: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,
        description="Parameters of that lens (its own defaults where left out).",
    )

    @classmethod
    def lens_choices(cls) -> list[str]:
        """The lens names this wrapper accepts."""
        return attribution_lenses()

    @field_validator("lens")
    @classmethod
    def _known_lens(cls, name: str) -> str:
        choices = cls.lens_choices()
        if name not in choices:
            raise ValueError(f"unknown lens {name!r}; choose one of {', '.join(choices)}")
        return name

    @field_validator("lens_params")
    @classmethod
    def _valid_lens_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("lens")
        if name is None:  # the lens itself is invalid, and says so
            return params
        try:
            parsed = parse_params(get_lens(name), params)
        except InvalidInput as error:
            raise ValueError(f"{error.field}: {error.reason}") from None
        # Spelled out with every default: equal parameters give equal cache keys.
        return parsed.model_dump(mode="json")


def wrapped(params: WrapperParams) -> tuple[str, dict[str, Any]]:
    """The wrapped lens's name and parameters, as given to :func:`attribution_maps`."""
    return params.lens, dict(params.lens_params)


def check_spatial(model: keras.Model) -> None:
    """Raise ``InvalidInput("model", ...)`` unless the model takes ``(H, W, C)`` images."""
    from convscope.models import inspect

    if len(inspect.input_shape(model)) != 3:
        raise InvalidInput("model", "attribution maps need a model whose input is an image")
