"""Keeping TensorFlow's native start-up notices off the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native libraries write to standard error inside the block to /dev/null.

    TensorFlow's C++ core prints notices (oneDNN, CPU features, absl's logging warning) to
    file descriptor 2 when it is imported, before ``TF_CPP_MIN_LOG_LEVEL`` or Python's
    logging can filter them. Python exceptions are unaffected: they are raised, and
    printed, after the block.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable standard error: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
