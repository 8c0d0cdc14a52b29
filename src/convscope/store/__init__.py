"""The store: runs, snapshots, curves and events in SQL (SQLite by default), arrays in files.

It imports neither Keras nor TensorFlow, so the web server stays light.
"""

from __future__ import annotations

from .arrays import atomic_write_bytes, read_npz, write_npz
from .db import Store
from .records import FINISHED, EventRecord, RunRecord, RunStatus, SnapshotRecord, SweepRecord
from .schema import SCHEMA_VERSION

__all__ = [
    "FINISHED",
    "SCHEMA_VERSION",
    "EventRecord",
    "RunRecord",
    "RunStatus",
    "SnapshotRecord",
    "Store",
    "SweepRecord",
    "atomic_write_bytes",
    "read_npz",
    "write_npz",
]
