"""The OpenAPI document links the answers that create runs and sweeps to every operation
that takes their id, and following a link reaches the resource it names."""

from __future__ import annotations

from server_helpers import Api


def _operations(document: dict) -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_every_operation_on_a_run_or_a_sweep_is_linked_from_its_creation(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    operations = _operations(document)
    for parameter, creators in {
        "run_id": [("post", "/api/runs"), ("post", "/api/models")],
        "sweep_id": [("post", "/api/sweeps")],
    }.items():
        taking = {
            (method, path)
            for path, methods in document["paths"].items()
            if f"{{{parameter}}}" in path
            for method in methods
        }
        assert len(taking) >= (10 if parameter == "run_id" else 1)
        for method, path in creators:
            links = document["paths"][path][method]["responses"]["201"]["links"]
            linked = {operations[link["operationId"]] for link in links.values()}
            assert linked == taking, (method, path)
            assert {tuple(link["parameters"].items()) for link in links.values()} == {
                ((parameter, "$response.body#/id"),)
            }


def test_following_a_link_from_a_created_run_reaches_that_run(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    created = api.client.post("/api/runs", json={"dataset": "digits", "epochs": 1})
    assert created.status_code == 201
    links = document["paths"]["/api/runs"]["post"]["responses"]["201"]["links"]
    operations = _operations(document)
    link = next(
        link
        for link in links.values()
        if operations[link["operationId"]] == ("get", "/api/runs/{run_id}")
    )
    pointer = link["parameters"]["run_id"].removeprefix("$response.body#/")
    run_id = created.json()[pointer]
    answer = api.client.get(f"/api/runs/{run_id}")
    assert answer.status_code == 200 and answer.json()["id"] == run_id
