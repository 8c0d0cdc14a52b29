"""Run or sweep fields read from a TOML or JSON file, for the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from convscope.errors import InvalidInput


def read_fields(path: str, field: str = "config") -> dict[str, Any]:
    """Read RunConfig fields (or a sweep's) from a TOML or JSON file.

    Args:
        path: The file; ``.toml`` is read as TOML, anything else as JSON.
        field: The option that named the file, for error messages.
    """
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as error:
        raise InvalidInput(field, f"cannot read {path}: {error.strerror}") from error
    try:
        if file.suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        data = json.loads(text)
    except ValueError as error:
        kind = "TOML" if file.suffix == ".toml" else "JSON"
        raise InvalidInput(field, f"{path} is not valid {kind}: {error}") from error
    if not isinstance(data, dict):
        raise InvalidInput(field, f"{path} must hold an object of fields")
    return data
