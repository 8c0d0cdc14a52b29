"""Versions of the libraries a run was trained with, stored with the run."""

from __future__ import annotations

import platform
from importlib import metadata

_PACKAGES = ("convscope", "keras", "tensorflow", "tensorflow-cpu", "numpy")


def library_versions() -> dict[str, str]:
    """Python's and the installed libraries' versions, by name."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
