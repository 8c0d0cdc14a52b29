"""Each run's network built once, with the weights of any snapshot swapped in on demand.

A snapshot's weights are a few hundred kilobytes of NumPy arrays; building a Keras model
and tracing its compiled functions costs far more. So a worker keeps one model per run
(bounded LRU) and an LRU of weights per (run, snapshot), and sets the weights asked for:
the compiled functions of lenses stay valid, since new weights are new values of the same
variables.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import keras
import numpy as np

from convscope.errors import NotFound
from convscope.runs import load_architecture, load_weights_file, snapshot_weights
from convscope.store import Store

Value = TypeVar("Value")


class _LRU:
    """The ``capacity`` most recently used values."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, load: Callable[[], Value]) -> Value:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = load()
        self.items[key] = value
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)
        return value


class RunModels:
    """Models of stored runs at chosen snapshots, and the runs' probe sets.

    Not thread-safe: a worker serves one request at a time.

    Args:
        store: The store holding the runs.
        max_runs: Networks kept built (one per run).
        max_snapshots: Snapshot weights kept in memory.
    """

    def __init__(self, store: Store, *, max_runs: int = 4, max_snapshots: int = 64) -> None:
        self.store = store
        self._models = _LRU(max_runs)
        self._weights = _LRU(max_snapshots)
        self._probes = _LRU(max_runs)
        self._records = _LRU(max_snapshots)
        self._loaded: dict[str, int] = {}

    def model(self, run_id: str, snapshot: int) -> keras.Model:
        """The run's model with the weights of ``snapshot``.

        Raises:
            NotFound: No such run or snapshot, or no weights were recorded.
            UnsafeModel: The run's model file is refused by the safe loader.
        """
        model = self._models.get(run_id, lambda: self._build(run_id))
        if self._loaded.get(run_id) != snapshot:
            weights = self._weights.get(
                (run_id, snapshot),
                lambda: load_weights_file(snapshot_weights(self.store, run_id, snapshot)),
            )
            model.set_weights(weights)
            self._loaded[run_id] = snapshot
        return model

    def _build(self, run_id: str) -> keras.Model:
        self._loaded.pop(run_id, None)
        return load_architecture(self.store, run_id)

    def probe_set(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The run's probe images as the model takes them (float32) and their labels."""

        def load() -> tuple[np.ndarray, np.ndarray]:
            from convscope.inspection.images import probe_model_inputs

            arrays = self.store.read_run_arrays(run_id, "probe")
            return probe_model_inputs(arrays), np.asarray(arrays["labels"], dtype=np.int64)

        return self._probes.get(run_id, load)

    def probe_masks(self, run_id: str) -> np.ndarray | None:
        """The probe images' true object masks, bool ``(N, H, W)``; None when not recorded."""

        def load() -> np.ndarray | None:
            arrays = self.store.read_run_arrays(run_id, "probe")
            return np.asarray(arrays["masks"], dtype=bool) if "masks" in arrays else None

        return self._probes.get((run_id, "masks"), load)

    def reference_inputs(self, run_id: str) -> np.ndarray:
        """Inputs that show the range of values the run's model takes (for lenses of scope
        ``model``): the probe images, or for a run without a probe set (an imported model)
        a black and a white image at its input shape and pixel scale."""
        from convscope.inspection.images import input_shape_of, run_pixel_scale

        try:
            return self.probe_set(run_id)[0]
        except NotFound:
            run = self.store.get_run(run_id)
            shape = input_shape_of(run.config, {})
            white = np.full(shape, 255.0 * run_pixel_scale(run.config, {}), np.float32)
            return np.stack([np.zeros(shape, np.float32), white])

    def recorded(self, run_id: str, snapshot: int) -> dict[str, np.ndarray]:
        """The arrays the Recorder stored at a snapshot (empty for an imported model)."""
        return self._records.get(
            (run_id, snapshot), lambda: self.store.snapshot_arrays(run_id, snapshot)
        )
