"""Imported models: a user's ``.keras`` file becomes a run of one snapshot, open to every lens.

The server never loads Keras: an inspection worker checks the file against the allowlist
of built-in layers before Keras sees it, loads it safely, and answers with its input
shape, its classes and its weights. Only then is anything stored: the run, its
``model.keras`` and the snapshot's weights.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile, status

from convscope.errors import InvalidInput, UnsafeModel, UnsupportedFormat
from convscope.inspection.requests import InspectionUnavailable, ModelFacts, ModelFileRequest
from convscope.server.deps import InspectionDep, SettingsDep, StoreDep
from convscope.server.limits import accepts_uploads
from convscope.server.routes.runs import run_out
from convscope.server.schemas import RunOut
from convscope.server.uploads import ZIP_SIGNATURES, read_upload, shown_name

router = APIRouter(tags=["models"])

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Test images followed as the probe set of an imported model, when a dataset is named.
PROBE_SIZE = 500
MAX_CLASSES = 10_000
MAX_CLASS_NAME = 100
_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file is larger than the limit"},
    415: {"description": "Not a .keras file (an .h5 file, or not a zip archive)"},
    422: {"description": "The file is refused (custom code, unknown layers...) or unusable"},
    503: {"description": "No inspection worker can check the file now"},
}


def parse_class_names(text: str | None) -> list[str] | None:
    """Class names from a form field: a JSON list of strings, or names separated by commas
    or new lines.

    Raises:
        InvalidInput: Empty names, too many, or too long (``field`` is ``"class_names"``).
    """
    if text is None or not text.strip():
        return None
    try:
        parsed = json.loads(text) if text.lstrip().startswith("[") else None
    except ValueError:
        raise InvalidInput("class_names", "not a valid JSON list of names") from None
    if parsed is None:
        parsed = [part.strip() for part in text.replace("\n", ",").split(",")]
    if not isinstance(parsed, list) or not all(isinstance(name, str) for name in parsed):
        raise InvalidInput("class_names", "give a list of names")
    names = [name.strip() for name in parsed]
    if not names or any(not name for name in names):
        raise InvalidInput("class_names", "every class needs a non-empty name")
    if len(names) > MAX_CLASSES or any(len(name) > MAX_CLASS_NAME for name in names):
        raise InvalidInput(
            "class_names", f"at most {MAX_CLASSES} names of at most {MAX_CLASS_NAME} characters"
        )
    return names


def _check_kind(data: bytes, name: str) -> None:
    if data.startswith(_HDF5_SIGNATURE) or name.lower().endswith((".h5", ".hdf5")):
        raise UnsupportedFormat(
            "file",
            "an HDF5 (.h5) model: convscope opens only .keras files; in Keras, save the "
            "model with model.save('name.keras')",
        )
    if not data.startswith(ZIP_SIGNATURES):
        raise UnsupportedFormat("file", "not a .keras file (a .keras file is a zip archive)")


def probe_arrays(
    name: str, facts: ModelFacts, pixel_scale: float
) -> tuple[dict[str, np.ndarray], list[str]]:
    """A probe set for an imported model: a class-stratified sample of a dataset's test
    images, which must have the model's input shape and classes.

    Returns:
        The probe arrays (as the Recorder writes them) and the dataset's class names.

    Raises:
        InvalidInput: Unknown or missing dataset, or one that does not fit the model
            (``field`` is ``"probe_dataset"``).
    """
    from convscope.datasets import dataset_info, load_dataset, sample_probe

    field = "probe_dataset"
    try:
        info = dataset_info(name)
    except InvalidInput as error:
        raise InvalidInput(field, error.reason, error.choices) from None
    if not info.available:
        raise InvalidInput(field, info.reason or f"the dataset {name!r} is not here")
    if info.image_shape is not None and tuple(info.image_shape) != facts.input_shape:
        shape = "x".join(map(str, info.image_shape))
        wanted = "x".join(map(str, facts.input_shape))
        raise InvalidInput(field, f"its images are {shape}; the model takes {wanted}")
    if info.num_classes is not None and info.num_classes != facts.num_classes:
        raise InvalidInput(
            field, f"it has {info.num_classes} classes; the model scores {facts.num_classes}"
        )
    data = load_dataset(name)
    indices = sample_probe(data.y_test, min(PROBE_SIZE, len(data.y_test)), seed=0)
    images = data.x_test[indices]
    arrays = {"indices": indices, "images": images, "labels": data.y_test[indices]}
    if pixel_scale != 1.0:  # the model takes scaled values: keep them as the Recorder does
        arrays["inputs"] = images.astype(np.float32) * np.float32(pixel_scale)
    return arrays, list(data.class_names)


@router.post(
    "/models", response_model=RunOut, status_code=status.HTTP_201_CREATED, responses=_RESPONSES
)
@accepts_uploads
def import_model(
    store: StoreDep,
    settings: SettingsDep,
    inspection: InspectionDep,
    file: Annotated[UploadFile, File(description="A .keras model file")],
    class_names: Annotated[
        str | None, Form(description="JSON list, or names separated by commas")
    ] = None,
    name: Annotated[str | None, Form(max_length=120)] = None,
    probe_dataset: Annotated[
        str | None,
        Form(description="A dataset whose test images the model classifies: its probe set"),
    ] = None,
    pixel_scale: Annotated[
        float,
        Form(
            gt=0,
            le=1,
            description="Factor from 0..255 pixels to the model's inputs: 1 "
            "for a model that takes raw pixels, 1/255 for one that takes 0..1 values",
        ),
    ] = 1.0,
) -> RunOut:
    """Import a ``.keras`` classifier as a run holding one snapshot, which every lens can
    open; its input shape and pixel scale are kept in the run's config. With
    ``probe_dataset``, a sample of that dataset's test images becomes its probe set."""
    limit = min(settings.max_upload_bytes, settings.max_model_bytes)
    data = read_upload(file, limit, "max_model_bytes")
    file_name = shown_name(file, "model.keras")
    _check_kind(data, file_name)
    names = parse_class_names(class_names)
    if inspection is None:
        raise InspectionUnavailable("this server runs no inspection worker to check the model")
    try:
        facts = inspection.read_model_file(ModelFileRequest(data, file_name))
    except UnsafeModel as error:
        raise InvalidInput("file", str(error)) from None
    if names is not None and len(names) != facts.num_classes:
        raise InvalidInput(
            "class_names", f"the model has {facts.num_classes} classes, got {len(names)} names"
        )
    probe = None
    if probe_dataset:
        probe, dataset_classes = probe_arrays(probe_dataset, facts, pixel_scale)
        names = names or dataset_classes
    config = {
        "imported": file_name,
        "model": facts.model_name,
        "input_shape": list(facts.input_shape),
        "pixel_scale": pixel_scale,
        "num_classes": facts.num_classes,
        "params": facts.params,
        "outputs_probabilities": facts.outputs_probabilities,
        "probe_dataset": probe_dataset or None,
    }
    run = store.create_run(
        config,
        source="imported",
        name=name or file_name,
        status="done",
        class_names=names or [str(index) for index in range(facts.num_classes)],
    )
    try:
        store.write_run_file(run.id, "model.keras", data)
        if probe is not None:
            store.write_run_arrays(run.id, "probe", probe)
        weights = store.temp_path(run.id, ".weights.npz")
        np.savez(weights, *facts.weights)
        store.add_snapshot(
            run.id, 0, epoch=0.0, step=0, metrics={}, arrays={}, weights_file=weights
        )
    except BaseException:
        store.delete_run(run.id)
        raise
    return run_out(store, store.get_run(run.id))
