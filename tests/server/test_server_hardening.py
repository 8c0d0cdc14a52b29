"""Requests meant to break the server: huge numbers, huge bodies, other origins, bad names,
networks too large to build; each gets a 4xx that names the field or the limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, Request
from server_helpers import Api, TestClient, seed_run

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.limits import MULTIPART_OVERHEAD, accepts_uploads

TINY = {"dataset": "digits", "epochs": 1, "train_size": 300, "probe_size": 50}
SECURITY_HEADERS = {
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def test_integers_beyond_64_bits_are_4xx(api: Api) -> None:
    run_id = seed_run(api.store, status="done", snapshots=1)
    huge = api.client.get(f"/api/runs/{run_id}/snapshots/9223372036854775808")
    assert huge.status_code == 422
    assert huge.json()["detail"][0]["loc"] == ["path", "index"]
    headers = {"Last-Event-ID": "99999999999999999999999"}
    # Past every event of a finished run: nothing more will come.
    assert api.client.get(f"/api/runs/{run_id}/events", headers=headers).status_code == 204


def test_a_nul_byte_in_a_path_is_not_a_server_error(api: Api) -> None:
    assert api.client.get("/%00").status_code == 200
    assert api.client.get("/assets/%00.js").status_code == 200
    assert api.client.get("/api/runs/%00").status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", False),
        ("epochs", True),
        ("augment_flip", 1),
        ("learning_rate", True),
        ("batch_size", 32.0),
    ],
)
def test_booleans_are_not_numbers_nor_numbers_booleans(api: Api, field: str, value: object) -> None:
    response = api.client.post("/api/runs", json={**TINY, field: value})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_allow_header_lists_every_method_of_the_path(api: Api) -> None:
    run_id = seed_run(api.store, status="done", snapshots=0)
    put = api.client.put(f"/api/runs/{run_id}")
    assert put.status_code == 405
    assert put.headers["allow"] == "DELETE, GET"
    health = api.client.post("/api/health")
    assert (health.status_code, health.headers["allow"]) == (405, "GET")
    runs = api.client.delete("/api/runs")
    assert runs.headers["allow"] == "GET, POST"
    # A path the API does not have is not found, whatever the method.
    assert api.client.post("/api/nothing-here").status_code == 404


def test_a_body_over_the_limit_is_413_before_it_is_read(api: Api) -> None:
    limit = Settings.max_request_bytes
    body = json.dumps([0] * (limit // 2)).encode()
    response = api.client.post(
        "/api/runs", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    detail = response.json()["detail"][0]
    assert detail["limit"] == "max_request_bytes"
    assert detail["maximum"] == limit
    assert str(len(body)) in detail["msg"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = api.client.post(
        "/api/runs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["detail"][0]["limit"] == "max_request_bytes"
    # A multipart body gets no more room on a route that takes no uploads.
    multipart = api.client.post("/api/runs", files={"file": ("x.bin", b"x" * (limit + 10))})
    assert multipart.status_code == 413
    assert api.client.get("/api/health").status_code == 200


def test_a_422_does_not_echo_a_large_input(api: Api) -> None:
    body = {**TINY, "name": "n" * 5000, "snapshot_fractions": [2.0] * 16}
    response = api.client.post("/api/runs", json=body)
    assert response.status_code == 422
    assert len(response.content) < 2000
    assert {tuple(d["loc"]) for d in response.json()["detail"]} >= {("body", "name")}
    short = api.client.post("/api/runs", json={**TINY, "epochs": 0}).json()["detail"][0]
    assert short["input"] == 0  # a short input is still shown


def test_cross_origin_requests_that_change_state_are_refused(api: Api) -> None:
    run_id = seed_run(api.store, status="queued", snapshots=0)
    # What any web page can send to a local server without a preflight.
    evil = api.client.post(
        f"/api/runs/{run_id}/cancel",
        content="{}",
        headers={"content-type": "text/plain", "origin": "http://evil.example"},
    )
    assert evil.status_code == 403
    assert "cross-origin" in evil.json()["detail"]
    site = api.client.post(f"/api/runs/{run_id}/cancel", headers={"sec-fetch-site": "cross-site"})
    assert site.status_code == 403
    assert api.store.get_run(run_id).status == "queued"
    mine = api.client.post(
        f"/api/runs/{run_id}/cancel",
        headers={"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"},
    )
    assert mine.status_code == 200 and mine.json()["status"] == "cancelled"
    # Reading is allowed from anywhere the browser lets it (it cannot read the answer).
    assert api.client.get("/api/runs", headers={"origin": "http://evil.example"}).status_code == 200


def test_other_host_names_are_refused(api: Api) -> None:
    rebound = api.client.get("/api/runs", headers={"host": "evil.example:8000"})
    assert rebound.status_code == 400
    assert "evil.example" in rebound.json()["detail"]
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert api.client.get("/api/health", headers={"host": host}).status_code == 200


def test_security_headers_on_every_response(api: Api, tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><title>app</title>")
    app = create_app(Settings(store_dir=tmp_path / "store"), start_workers=False, static_dir=static)
    with TestClient(app) as client:
        responses = [
            client.get("/"),
            client.get("/api/health"),
            client.get("/api/runs/0123456789ab"),
            client.post("/api/runs", json={"epochs": -1}),
            client.get("/api/health", headers={"host": "evil.example"}),
        ]
        docs = client.get("/docs")
    for response in [*responses, docs]:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.url, name)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors " in csp and "object-src 'none'" in csp
    assert "script-src 'self';" in responses[0].headers["content-security-policy"]
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def token_app(tmp_path: Path) -> TestClient:
    settings = Settings(store_dir=tmp_path / "store", auth_token="s3cret", allowed_hosts=("*",))
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>app</title>")
    return TestClient(create_app(settings, start_workers=False, static_dir=static))


def test_a_token_server_refuses_requests_without_it(tmp_path: Path) -> None:
    with token_app(tmp_path) as client:
        assert client.get("/api/health").status_code == 401
        assert client.get("/").status_code == 401
        assert "access token" in client.get("/").text
        assert client.get("/api/health", headers={"x-convscope-token": "wrong"}).status_code == 401
        bearer = client.get("/api/health", headers={"authorization": "Bearer s3cret"})
        assert bearer.status_code == 200
        # Any host name: the token, not the name, protects a server others can reach.
        assert (
            client.get(
                "/api/health", headers={"x-convscope-token": "s3cret", "host": "lab.example"}
            ).status_code
            == 200
        )


def test_the_token_in_the_address_becomes_a_cookie(tmp_path: Path) -> None:
    with token_app(tmp_path) as client:
        opened = client.get("/runs?token=s3cret&x=1", follow_redirects=False)
        assert opened.status_code == 303
        assert opened.headers["location"] == "/runs?x=1"
        cookie = opened.headers["set-cookie"]
        assert "convscope_token=s3cret" in cookie and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert client.get("/api/runs").status_code == 200  # the client keeps the cookie
        run_id = seed_run(client.app.state.store, status="queued", snapshots=0)  # type: ignore[attr-defined]
        # The cookie goes with any request the browser sends, so it does not make a
        # cross-origin request acceptable; a token in a header does.
        refused = client.post(
            f"/api/runs/{run_id}/cancel", headers={"origin": "http://evil.example"}
        )
        assert refused.status_code == 403
        allowed = client.post(
            f"/api/runs/{run_id}/cancel",
            headers={"origin": "http://evil.example", "x-convscope-token": "s3cret"},
        )
        assert allowed.status_code == 200


def test_architecture_names_that_tensorflow_refuses_are_422(api: Api) -> None:
    arch = {"name": "my net", "blocks": [{"type": "flatten"}, {"type": "dense", "units": 8}]}
    response = api.client.post("/api/runs", json={**TINY, "arch": arch})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "arch", "name"]
    assert "letters, digits" in detail["msg"]
    arch["name"] = "my-net_2.b"
    assert api.client.post("/api/runs", json={**TINY, "arch": arch}).status_code == 201


def test_networks_too_large_to_build_are_422_naming_the_limit(api: Api) -> None:
    huge = {
        "name": "huge",
        "blocks": [
            *({"type": "conv", "filters": 1024, "kernel_size": 11} for _ in range(8)),
            {"type": "dense", "units": 8192},
        ],
    }
    response = api.client.post("/api/runs", json={**TINY, "arch": huge})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["limit"] == "max_model_params"
    assert detail["loc"] == ["body", "arch"]
    assert "parameters" in detail["msg"]
    wide = {"blocks": [{"type": "conv", "filters": 1024}, {"type": "global_pool"}]}
    body = {**TINY, "dataset": "shapes", "dataset_options": {"image_size": 128}, "batch_size": 4096}
    response = api.client.post("/api/runs", json={**body, "arch": wide})
    assert response.status_code == 422
    assert response.json()["detail"][0]["limit"] == "max_activation_bytes"
    assert api.store.list_runs() == []


def test_folder_datasets_are_uploaded_not_named_by_path(api: Api, tmp_path: Path) -> None:
    folder = api.client.post("/api/runs", json={**TINY, "dataset": "folder"})
    assert folder.status_code == 422
    detail = folder.json()["detail"][0]
    assert detail["loc"] == ["body", "dataset"]
    assert "upload" in detail["msg"] and "POST /api/datasets" in detail["msg"]
    body = {**TINY, "dataset": "folder", "dataset_options": {"path": str(tmp_path)}}
    with_path = api.client.post("/api/runs", json=body)
    assert with_path.status_code == 422
    assert with_path.json()["detail"][0]["loc"] == ["body", "dataset_options", "path"]
    assert "never reads a path chosen by a client" in with_path.json()["detail"][0]["msg"]


def test_dataset_options_are_checked_and_kept(api: Api) -> None:
    body = {**TINY, "dataset": "shapes", "dataset_options": {"image_size": 16, "train_count": 400}}
    created = api.client.post("/api/runs", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["dataset_options"] == {"image_size": 16, "train_count": 400}
    unknown = api.client.post("/api/runs", json={**body, "dataset_options": {"colour": 1}})
    assert unknown.status_code == 422
    assert "not an option of dataset 'shapes'" in unknown.json()["detail"][0]["msg"]
    too_big = {**body, "dataset_options": {"image_size": 128, "train_count": 200_000}}
    refused = api.client.post("/api/runs", json=too_big)
    assert refused.status_code == 413
    assert refused.json()["detail"][0]["limit"] == "max_dataset_bytes"


def test_only_routes_that_take_uploads_accept_large_multipart_bodies(tmp_path: Path) -> None:
    router = APIRouter()

    @router.post("/uploads/test")
    @accepts_uploads
    async def upload(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    settings = Settings(store_dir=tmp_path / "store", max_request_bytes=1000, max_upload_bytes=5000)
    app = create_app(settings, start_workers=False)
    app.include_router(router, prefix="/api")
    with TestClient(app) as client:
        ok = client.post("/api/uploads/test", files={"file": ("a.bin", b"x" * 3000)})
        assert ok.status_code == 200, ok.text
        assert ok.json()["bytes"] > 3000
        over = 5000 + MULTIPART_OVERHEAD + 1
        too_big = client.post("/api/uploads/test", files={"file": ("a.bin", b"x" * over)})
        assert too_big.status_code == 413
        assert too_big.json()["detail"][0]["limit"] == "max_upload_bytes"
        # Not multipart: the small limit.
        raw = client.post("/api/uploads/test", content=b"x" * 3000)
        assert raw.json()["detail"][0]["limit"] == "max_request_bytes"
