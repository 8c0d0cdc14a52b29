"""convscope: open the black box of image-classification networks.

Train a Keras convnet and watch it from the inside: how the same images move and change
class snapshot after snapshot, what every layer computes, and where the decision happens.

Importing the package selects the TensorFlow backend for Keras (unless ``KERAS_BACKEND``
is already set) and quietens TensorFlow's start-up logging. Heavy modules are imported
lazily, so ``import convscope`` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

if TYPE_CHECKING:
    from convscope.notebook import show as show
    from convscope.runs import load_model as load_model
    from convscope.runs import open_store as open_store
    from convscope.training.recorder import Recorder as Recorder

_LAZY = {
    "Recorder": ("convscope.training.recorder", "Recorder"),
    "open_store": ("convscope.runs", "open_store"),
    "load_model": ("convscope.runs", "load_model"),
    "show": ("convscope.notebook", "show"),
}

__all__ = ["Recorder", "__version__", "load_model", "open_store", "show"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        return getattr(importlib.import_module(module_name), attr)
    raise AttributeError(f"module 'convscope' has no attribute {name!r}")
