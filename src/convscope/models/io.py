"""Save models atomically, and load user ``.keras`` files only after proving them harmless.

A ``.keras`` file is a zip holding ``config.json`` (the architecture), ``metadata.json``
and ``model.weights.h5``. Its config names Python classes that Keras will import and
call, so a file from a user is treated as code: before Keras sees it, the zip is read
through :func:`convscope.untrusted.open_zip` (paths, links, encryption, sizes, zip bombs)
and must hold exactly those three entries; every object in the config must be a
built-in Keras class on an allowlist (no Lambda, no custom or registered object, no
module outside ``keras``); the weights the config makes Keras allocate are counted
(:func:`convscope.models.estimate.estimate_keras_config`) against
``Settings.max_model_params``; and the weights file may hold only plain numeric datasets
of bounded total size. The checked bytes are copied to a private file, and only that
copy is given to ``keras.saving.load_model(..., safe_mode=True, compile=False)``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import h5py
import keras

from convscope.config import Settings
from convscope.errors import InvalidInput, PayloadTooLarge, UnsafeModel
from convscope.models.estimate_keras import Unsizable, estimate_keras_config
from convscope.untrusted import ArchiveLimits, SafeZip, open_zip

REQUIRED_ENTRIES = frozenset({"config.json", "metadata.json", "model.weights.h5"})
#: Sanity bounds of the format itself (a config is text, a weights file a few groups per
#: layer), not limits a user would tune.
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_H5_OBJECTS = 100_000
#: Weights, optimizer slots and a margin: the most numbers a weights file may hold, per
#: parameter the config allows.
VALUES_PER_PARAM = 4

MODEL_CLASSES = frozenset({"Functional", "Sequential"})
LAYER_CLASSES = frozenset(
    {
        "InputLayer",
        "Conv1D",
        "Conv2D",
        "Conv2DTranspose",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "Dense",
        "MaxPooling2D",
        "AveragePooling2D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling2D",
        "Flatten",
        "Reshape",
        "Permute",
        "Dropout",
        "SpatialDropout2D",
        "GaussianNoise",
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "PReLU",
        "Softmax",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Concatenate",
        "Rescaling",
        "Normalization",
        "Resizing",
        "CenterCrop",
        "ZeroPadding2D",
        "Cropping2D",
        "UpSampling2D",
        "Identity",
        "RandomFlip",
        "RandomTranslation",
        "RandomRotation",
        "RandomZoom",
        "RandomContrast",
    }
)
# Serialised values that Keras turns into data, never into code.
DATA_MARKERS = frozenset(
    {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"}
)
# Public Keras namespaces whose classes are data-only objects (initialisers, losses...).
_OBJECT_NAMESPACES = (
    "initializers",
    "regularizers",
    "constraints",
    "optimizers",
    "losses",
    "metrics",
)

# Functions of ``keras.activations`` that are not activations.
_ACTIVATION_HELPERS = frozenset({"get", "serialize", "deserialize"})


def save_model(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Save a model as a ``.keras`` file, atomically.

    The model is written to a temporary file in the destination directory, flushed to
    disk, then renamed over ``path``: a reader never sees a half-written file.

    Args:
        model: The Keras model.
        path: Destination; its name must end in ``.keras``.

    Returns:
        The destination path.

    Raises:
        InvalidInput: If ``path`` does not end in ``.keras`` (``field`` is ``"path"``).
    """
    target = Path(path)
    if target.suffix != ".keras":
        raise InvalidInput("path", f"a model file name must end in .keras, got {target.name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keras picks the format from the suffix, so the temporary name ends in .keras too;
    # Keras creates the file itself, so it gets the usual permissions (umask).
    temp = target.parent / f".{target.stem}.{secrets.token_hex(8)}.tmp.keras"
    try:
        model.save(temp)
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    return target


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_model(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> keras.Model:
    """Load a ``.keras`` file that may come from anyone, refusing anything that holds code.

    Args:
        path: The ``.keras`` file.
        max_bytes: Largest file accepted; default ``Settings.max_model_bytes``.

    Returns:
        The model, not compiled.

    Raises:
        InvalidInput: If there is no file at ``path`` (``field`` is ``"path"``).
        UnsafeModel: If the file is not a plain ``.keras`` zip of built-in layers, or
            Keras cannot load it; the message says why.
        PayloadTooLarge: The file, an entry, or the network it describes is larger than
            a limit of ``Settings`` (the message names it).
    """
    max_bytes = max_bytes or Settings.max_model_bytes
    source = Path(path)
    if not source.is_file():
        raise InvalidInput("path", f"no model file named {source.name!r}")
    if source.suffix != ".keras":
        raise UnsafeModel(f"{source.name}: not a .keras file")
    size = source.stat().st_size
    if size > max_bytes:
        raise PayloadTooLarge(
            "model", f"{source.name} has {size} bytes", limit="max_model_bytes", maximum=max_bytes
        )
    # Read once and check those bytes, so that the file cannot change between the check
    # and the load.
    with source.open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            "model",
            f"{source.name} grew past the limit",
            limit="max_model_bytes",
            maximum=max_bytes,
        )
    try:
        check_keras_archive(data, max_bytes=max_bytes)
    except UnsafeModel as exc:
        raise UnsafeModel(f"{source.name}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="convscope-load-") as directory:
        private = Path(directory) / "model.keras"
        private.write_bytes(data)
        try:
            model = keras.saving.load_model(private, safe_mode=True, compile=False)
        except Exception as exc:
            raise UnsafeModel(f"{source.name}: Keras could not load it: {exc}") from exc
    if not isinstance(model, keras.Model):
        raise UnsafeModel(f"{source.name}: holds a {type(model).__name__}, not a model")
    return model


def check_keras_archive(data: bytes, *, max_bytes: int | None = None) -> None:
    """Check the bytes of a ``.keras`` file without letting Keras near them.

    Args:
        data: The whole file.
        max_bytes: Largest total uncompressed size accepted; default
            ``Settings.max_model_bytes``.

    Raises:
        UnsafeModel: With the reason, if the archive or its content is refused.
        PayloadTooLarge: An entry or the network is larger than a limit.
    """
    max_bytes = max_bytes or Settings.max_model_bytes
    # A few entries more than needed, so that an extra one is named as unexpected.
    limits = ArchiveLimits.from_settings(
        max_entries=4 * len(REQUIRED_ENTRIES), max_total_bytes=max_bytes, max_member_bytes=max_bytes
    )
    try:
        with open_zip(data, limits=limits, field="model") as archive:
            _check_entries(archive)
            config_text = archive.read("config.json")
            metadata_text = archive.read("metadata.json")
            weights = archive.read("model.weights.h5")
    except PayloadTooLarge:
        raise
    except InvalidInput as exc:
        raise UnsafeModel(exc.reason) from None
    _parse_json(metadata_text, "metadata.json")
    config = _parse_json(config_text, "config.json")
    check_model_config(config)
    max_params = _check_model_size(config)
    _check_weights(weights, max_values=VALUES_PER_PARAM * max_params)


def _check_entries(archive: SafeZip) -> None:
    names = archive.names()
    for name in names:
        if name not in REQUIRED_ENTRIES:
            raise UnsafeModel(f"unexpected entry {name!r} (a .keras file holds only {_listing()})")
        if name.endswith(".json") and archive.size(name) > MAX_JSON_BYTES:
            raise UnsafeModel(f"entry {name!r} is larger than {MAX_JSON_BYTES} bytes")
    missing = REQUIRED_ENTRIES - set(names)
    if missing:
        raise UnsafeModel(
            f"missing {', '.join(sorted(missing))} (a .keras file holds {_listing()})"
        )


def _check_model_size(config: Any) -> int:
    """Refuse a config whose weights go past ``max_model_params``; returns that limit."""
    try:
        params = estimate_keras_config(config).params
    except Unsizable as exc:
        reason = f"config.json: the size of the network cannot be worked out: {exc}"
        raise UnsafeModel(reason) from None
    limit = Settings.max_model_params
    if params > limit:
        raise PayloadTooLarge(
            "model",
            f"the network has {params:,} parameters",
            limit="max_model_params",
            maximum=limit,
        )
    return limit


def _listing() -> str:
    return ", ".join(sorted(REQUIRED_ENTRIES))


def _parse_json(text: bytes, name: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UnsafeModel(f"{name} is not valid JSON") from exc


def check_model_config(config: Any) -> None:
    """Walk a ``.keras`` config and refuse any object that could run code.

    Every serialised object (a dict with ``class_name``) must be a data marker, a
    ``Functional``/``Sequential`` model, an allowlisted built-in layer, or a public
    Keras initialiser, regulariser, constraint, optimiser, loss or metric, or a dtype
    policy; its ``module`` must be Keras' own, and it must carry no custom
    ``registered_name``. Activations must be named built-in activations.

    Args:
        config: The parsed ``config.json``.

    Raises:
        UnsafeModel: With the reason, at the first refused object.
    """
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        raise UnsafeModel("config.json does not describe a Functional or Sequential model")
    # An explicit stack rather than recursion: a hostile, deeply nested config must not
    # exhaust Python's recursion limit.
    stack: list[Any] = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                _check_object(node)
            if "activation" in node:
                _check_activation(node["activation"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _check_object(node: dict[str, Any]) -> None:
    class_name = node["class_name"]
    if not isinstance(class_name, str):
        raise UnsafeModel("an object in config.json has a non-text class_name")
    if class_name in DATA_MARKERS and "module" not in node:
        return
    if class_name in {"Lambda", "__lambda__"} or "lambda" in class_name.lower():
        raise UnsafeModel(f"{class_name} layers hold arbitrary Python code and are refused")
    module = node.get("module")
    if not isinstance(module, str) or not (module == "keras" or module.startswith("keras.")):
        raise UnsafeModel(f"{class_name!r} comes from module {module!r}, not from Keras")
    registered = node.get("registered_name")
    if registered is not None and registered != class_name:
        raise UnsafeModel(f"{class_name!r} is a custom registered object ({registered!r})")
    if not _allowed(class_name, module):
        raise UnsafeModel(f"{class_name!r} from {module!r} is not on the allowlist of built-ins")


def _allowed(class_name: str, module: str) -> bool:
    if class_name in MODEL_CLASSES:
        return module in {"keras", "keras.models"} or module.startswith("keras.src.models.")
    if module == "keras.layers":
        return class_name in LAYER_CLASSES
    if module in {"keras", "keras.dtype_policies"}:
        return class_name in {"DTypePolicy", "FloatDTypePolicy"}
    if module == "keras.optimizers.schedules":
        return _public_class(keras.optimizers.schedules, class_name)
    namespace = module.removeprefix("keras.")
    if namespace in _OBJECT_NAMESPACES:
        return _public_class(getattr(keras, namespace), class_name)
    return False


def _public_class(namespace: Any, class_name: str) -> bool:
    return not class_name.startswith("_") and isinstance(getattr(namespace, class_name, None), type)


def _check_activation(value: Any) -> None:
    # Dicts are checked as objects by the walk; a string must name a built-in activation.
    if value is None or isinstance(value, dict):
        return
    if (
        not isinstance(value, str)
        or value.startswith("_")
        or value in _ACTIVATION_HELPERS
        or not callable(getattr(keras.activations, value, None))
    ):
        raise UnsafeModel(f"activation {value!r} is not a built-in activation")


def _check_weights(weights: bytes, max_values: int) -> None:
    # HDF5 can link to other files (external links, external or virtual datasets); a
    # weights file that did so could read files of the server into a model. Its datasets
    # may also be compressed: their declared sizes, not the file's, bound what loading
    # them allocates.
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            values = _check_h5_group(h5, counter=[0])
    except UnsafeModel:
        raise
    except Exception as exc:
        raise UnsafeModel(f"model.weights.h5 is not a readable HDF5 file: {exc}") from exc
    if values > max_values:
        raise PayloadTooLarge(
            "model",
            f"model.weights.h5 holds {values:,} numbers, more than {VALUES_PER_PARAM} per "
            "allowed parameter",
            limit="max_model_params",
            maximum=max_values // VALUES_PER_PARAM,
        )


def _check_h5_group(group: h5py.Group, counter: list[int]) -> int:
    """Check every object under ``group``; returns how many numbers its datasets hold."""
    values = 0
    pending = [group]
    while pending:
        current = pending.pop()
        for name in current:
            counter[0] += 1
            if counter[0] > MAX_H5_OBJECTS:
                raise UnsafeModel("model.weights.h5 holds too many objects")
            link = current.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise UnsafeModel(f"model.weights.h5 holds a link ({current.name}/{name})")
            item = current[name]
            if isinstance(item, h5py.Group):
                pending.append(item)
            elif isinstance(item, h5py.Dataset):
                if item.external or item.is_virtual:
                    raise UnsafeModel(f"model.weights.h5 dataset {item.name} refers to files")
                if item.dtype.kind not in "biuf":
                    raise UnsafeModel(f"model.weights.h5 dataset {item.name} is not numeric")
                values += int(item.size)
            else:
                raise UnsafeModel(f"model.weights.h5 holds an unexpected object {item.name}")
    return values
