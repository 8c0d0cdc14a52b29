"""Answering a :class:`LensRequest` inside a process that has Keras: the worker's work.

The same function serves the local inspection worker and any other executor that runs
inspection work.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import numpy as np

from convscope import lenses
from convscope.errors import ConvscopeError, InvalidInput, NotFound, UnsafeModel
from convscope.inspection.requests import (
    LensFailure,
    LensReply,
    LensRequest,
    ModelFacts,
    ModelFileRequest,
)
from convscope.inspection.run_models import RunModels


def run_lens_request(models: RunModels, request: LensRequest) -> LensReply:
    """Run ``request.lens`` on the run's model at each requested snapshot.

    Lenses of scope ``probe_set`` look at the run's probe set with its labels (and its
    object masks, when recorded); lenses of scope ``model`` get the run's reference inputs
    (their value range); others look at ``request.images`` (and ``request.masks``). Every
    lens gets the probe set as its sample of the run's data (``dataset_images``, for a
    dataset-mean baseline); lenses that read the Recorder's arrays get each snapshot's.
    With one snapshot, the lens's result is returned as is; with several, each array gains
    a leading snapshot axis, and ``meta`` keeps the values that are the same at every
    snapshot, with the others in ``meta["per_snapshot"]``.

    Raises:
        InvalidInput, NotFound, UnsafeModel: As the lens, the store or the loader raise.
    """
    lens = lenses.get_lens(request.lens)
    labels = None
    if lens.scope == "probe_set":
        images, labels = models.probe_set(request.run_id)
        masks = models.probe_masks(request.run_id)
        dataset_images: np.ndarray | None = images
    elif lens.scope == "model":
        images, masks = models.reference_inputs(request.run_id), None
        dataset_images = None
    elif request.images is None:
        raise InvalidInput("image", f"the lens {lens.name!r} needs an image")
    else:
        images, masks = request.images, request.masks
        try:
            dataset_images = models.probe_set(request.run_id)[0]
        except NotFound:  # a run whose probe set is not recorded
            dataset_images = None
    results = []
    for snapshot in request.snapshots:
        model = models.model(request.run_id, snapshot)
        recorded = models.recorded(request.run_id, snapshot) if lens.uses_record else None
        results.append(
            lenses.compute(
                lens.name,
                model,
                images,
                request.target,
                labels=labels,
                masks=masks,
                dataset_images=dataset_images,
                recorded=recorded,
                **request.params,
            )
        )
    if len(results) == 1:
        return LensReply(
            results[0].arrays, {"snapshots": list(request.snapshots), **results[0].meta}
        )
    return LensReply(
        {name: np.stack([result.arrays[name] for result in results]) for name in results[0].arrays},
        {"snapshots": list(request.snapshots), **merge_meta([r.meta for r in results])},
    )


def merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """One dict of the keys equal in every ``metas``, plus ``per_snapshot`` for the others."""
    keys = list(dict.fromkeys(key for meta in metas for key in meta))
    shared = {
        key: metas[0][key]
        for key in keys
        if all(key in m and m[key] == metas[0][key] for m in metas)
    }
    varying = [{key: value for key, value in meta.items() if key not in shared} for meta in metas]
    if any(varying):
        shared["per_snapshot"] = varying
    return shared


def answer(models: RunModels, request: object) -> LensReply | ModelFacts:
    """The worker's answer to one request: a lens's result, or a model file's facts."""
    if isinstance(request, ModelFileRequest):
        return read_model_file(request)
    if isinstance(request, LensRequest):
        return run_lens_request(models, request)
    raise InvalidInput("request", f"unknown request {type(request).__name__}")


def reply_to(models: RunModels, request: object) -> tuple[str, object]:
    """What a worker sends back for ``request``: ``("ok", answer)`` or ``("error", failure)``.

    A deliberate refusal (a :class:`~convscope.errors.ConvscopeError`: bad input, unknown
    run) travels as data; any other error too, with its traceback printed in the worker's
    log, so that the worker lives on.
    """
    try:
        return "ok", answer(models, request)
    except Exception as error:
        if not isinstance(error, ConvscopeError):
            traceback.print_exc(file=sys.stderr)
        return "error", LensFailure.from_exception(error)


def read_model_file(request: ModelFileRequest) -> ModelFacts:
    """Check a user's ``.keras`` file, load it safely, and read what an imported run needs.

    The file is checked against the allowlist before Keras opens it
    (:func:`convscope.models.io.load_model`); only a model of one image input and one
    output of class scores is accepted.

    Raises:
        UnsafeModel: The file is refused, or Keras cannot load it.
        InvalidInput: The model does not take images or does not output class scores
            (``field`` is ``"file"``).
    """
    import tempfile
    from pathlib import Path

    from convscope.models import inspect
    from convscope.models.io import load_model

    with tempfile.TemporaryDirectory(prefix="convscope-import-") as directory:
        path = Path(directory) / "model.keras"
        path.write_bytes(request.data)
        try:
            model = load_model(path)
        except UnsafeModel as error:
            raise UnsafeModel(str(error).replace("model.keras", request.name, 1)) from None
    inputs, outputs = getattr(model, "inputs", None) or [], getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise InvalidInput("file", "the model must have one input (an image) and one output")
    shape = tuple(inputs[0].shape[1:])
    if len(shape) != 3 or any(side is None for side in shape):
        raise InvalidInput(
            "file", f"the model takes inputs of shape {shape}, not images (height, width, channels)"
        )
    classes = outputs[0].shape[1:]
    if len(classes) != 1 or classes[0] is None or classes[0] < 2:
        raise InvalidInput("file", f"the model outputs {tuple(classes)}, not one score per class")
    return ModelFacts(
        input_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        num_classes=int(classes[0]),
        weights=[np.asarray(weight) for weight in model.get_weights()],
        model_name=str(model.name),
        params=int(model.count_params()),
        outputs_probabilities=inspect.ends_in_softmax(model),
    )
