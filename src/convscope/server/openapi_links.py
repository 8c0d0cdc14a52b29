"""OpenAPI links: from the operations that create a run or a sweep to those that take its id.

A link tells a client (and a stateful fuzzer such as Schemathesis) that the ``id`` in the
answer of ``POST /api/runs`` is the ``run_id`` of ``GET /api/runs/{run_id}/probe``, and of
every other operation under that path. They are derived from the paths, so that a new
route is linked without being listed anywhere.
"""

from __future__ import annotations

from typing import Any

#: The path parameter an id fills, and the operations (method, path) whose 201 answers
#: carry that id in their body's ``id``.
CREATORS: dict[str, tuple[tuple[str, str], ...]] = {
    "run_id": (("post", "/api/runs"), ("post", "/api/models")),
    "sweep_id": (("post", "/api/sweeps"),),
}


def add_links(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the links of ``CREATORS`` to an OpenAPI document (in place); returns it."""
    paths: dict[str, dict[str, Any]] = openapi.get("paths", {})
    for parameter, creators in CREATORS.items():
        targets = [
            operation["operationId"]
            for path, operations in paths.items()
            if f"{{{parameter}}}" in path
            for operation in operations.values()
            if "operationId" in operation
        ]
        for method, path in creators:
            created = paths.get(path, {}).get(method, {}).get("responses", {}).get("201")
            if created is None:
                continue
            links = created.setdefault("links", {})
            for operation_id in targets:
                links[operation_id] = {
                    "operationId": operation_id,
                    "parameters": {parameter: "$response.body#/id"},
                }
    return openapi
