"""Reading runs back in notebooks and scripts.

store = convscope.open_store()            # or open_store("./runs")
run = store.list_runs()[0]
snapshots = store.list_snapshots(run.id)
arrays = store.snapshot_arrays(run.id, snapshots[-1].index)   # logits, embedding, ...
model = convscope.load_model(store, run.id, snapshot=2)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from convscope.errors import NotFound
from convscope.store import Store

if TYPE_CHECKING:
    import keras


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """Open (or create) the store at ``path`` (default ``$CONVSCOPE_STORE`` or ``~/.convscope``)."""
    return Store(path)


def load_model(store: Store, run_id: str, snapshot: int = -1) -> keras.Model:
    """The run's Keras model with the weights it had at a snapshot.

    Args:
        store: The store holding the run.
        run_id: The run.
        snapshot: Snapshot index; negative values count from the last (``-1``: the last).

    Returns:
        The model, ready for ``predict``.

    Raises:
        NotFound: No such run, snapshot, or saved weights.
    """
    snapshots = store.list_snapshots(run_id)
    if not snapshots:
        raise NotFound(f"run {run_id} has no snapshots")
    try:
        record = snapshots[snapshot] if snapshot < 0 else store.get_snapshot(run_id, snapshot)
    except IndexError as error:
        raise NotFound(f"run {run_id} has no snapshot {snapshot}") from error
    model = load_architecture(store, run_id)
    model.set_weights(load_weights_file(snapshot_weights(store, run_id, record.index)))
    return model


def load_architecture(store: Store, run_id: str) -> keras.Model:
    """The run's Keras model, with the weights it was saved or built with.

    Reads the run's ``model.keras`` through the safe loader, or rebuilds the network from
    the run's config when the file is absent.

    Raises:
        NotFound: No such run, or its network cannot be rebuilt.
    """
    from convscope.models.io import load_model as load_keras_file

    architecture = store.run_dir(run_id) / "model.keras"
    return load_keras_file(architecture) if architecture.exists() else _rebuild(store, run_id)


def snapshot_weights(store: Store, run_id: str, index: int) -> os.PathLike[str]:
    """The weights file of a snapshot.

    Raises:
        NotFound: No such snapshot, or it was recorded without weights.
    """
    weights = store.snapshot_weights_path(run_id, index)
    if weights is None:
        raise NotFound(f"snapshot {index} of run {run_id} was recorded without weights")
    return weights


def load_weights_file(path: os.PathLike[str]) -> list[np.ndarray]:
    """The arrays of a snapshot's weights file, in ``model.get_weights()`` order."""
    with np.load(path, allow_pickle=False) as arrays:
        # np.savez names positional arrays arr_0, arr_1, ...: order by the number.
        names = sorted(arrays.files, key=lambda name: int(name.removeprefix("arr_")))
        return [arrays[name] for name in names]


def _rebuild(store: Store, run_id: str) -> keras.Model:
    from convscope.datasets import dataset_info
    from convscope.training.config import RunConfig
    from convscope.training.runner import build_config_model

    run = store.get_run(run_id)
    config = RunConfig.model_validate(run.config)
    info = dataset_info(config.dataset)
    if info.image_shape is None or info.num_classes is None:
        raise NotFound(f"cannot rebuild the model of run {run_id}: {info.reason}")
    return build_config_model(config, info.image_shape, info.num_classes)
