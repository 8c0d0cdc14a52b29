"""The three questions over HTTP, on a copy of a real trained run, with a real inspection
worker computing what is missing through the routes the web app uses."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from server_helpers import TestClient  # the tests folder is on the path (conftest.py)

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store import Store


@pytest.fixture(scope="module")
def run_copy(trained_run, tmp_path_factory):
    """The trained run in a store of its own: these tests add results to it."""
    store_dir = tmp_path_factory.mktemp("questions") / "store"
    shutil.copytree(trained_run.store_dir, store_dir)
    return store_dir, trained_run.run_id


@pytest.fixture(scope="module")
def client(run_copy, tmp_path_factory):
    store_dir, _ = run_copy
    settings = Settings(store_dir=store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, static_dir=tmp_path_factory.mktemp("no-static"))
    with TestClient(app) as test_client:
        yield test_client


def answers(body: dict) -> dict[str, list[dict]]:
    return {answer["question"]: answer["facts"] for answer in body["answers"]}


def test_how_it_learned_matches_the_stored_logits(client, run_copy) -> None:
    store_dir, run_id = run_copy
    response = client.get(f"/api/runs/{run_id}/questions")
    assert response.status_code == 200, response.text
    body = response.json()
    with Store(store_dir) as store:
        labels = store.read_run_arrays(run_id, "probe")["labels"]
        records = store.list_snapshots(run_id)
        logits = [store.snapshot_arrays(run_id, r.index)["logits"] for r in records]
    accuracy = np.array([np.mean(np.argmax(each, axis=1) == labels) for each in logits])
    assert body["snapshot"] == records[-1].index
    learn = answers(body)["learn"]
    for fact, threshold in zip(learn[:2], (0.5, 0.9), strict=True):
        if fact["key"] == "learn.milestone":
            at = fact["values"]["snapshot"]
            assert fact["values"]["accuracy"] == pytest.approx(accuracy[at])
            assert accuracy[at] >= threshold > accuracy[:at].max(initial=0)
            assert fact["values"]["epoch"] == pytest.approx(records[at].epoch)
            assert fact["link"]["snapshot"] == at
        else:
            assert fact["key"] == "learn.milestone_missed"
            assert fact["values"]["best"] == pytest.approx(accuracy.max())
    keys = [fact["key"] for fact in learn]
    assert "learn.last_classes" in keys
    # Values are numbers and names, never sentences.
    assert all(not isinstance(v, str) or " " not in v for f in learn for v in f["values"].values())


def test_what_it_looked_at_is_computed_on_request(client, run_copy) -> None:
    _, run_id = run_copy
    look = answers(client.get(f"/api/runs/{run_id}/questions?image=3").json())["look"]
    (missing,) = look
    assert missing["key"] == "look.missing" and missing["values"]["image"] == 3
    request = dict(missing["compute"])
    lens = request.pop("lens")
    computed = client.post(f"/api/runs/{run_id}/lenses/{lens}", json=request)
    assert computed.status_code == 200, computed.text
    result = computed.json()

    body = client.get(f"/api/runs/{run_id}/questions?image=3").json()
    where, faithful = answers(body)["look"]
    assert body["image"] == 3
    heatmap = np.clip(decode_array(result["arrays"]["map"])[0].astype(np.float64), 0, None)
    thirds = [np.array_split(np.arange(n), 3) for n in heatmap.shape]
    shares = [[heatmap[np.ix_(r, c)].sum() / heatmap.sum() for c in thirds[1]] for r in thirds[0]]
    row, col = np.unravel_index(np.argmax(shares), (3, 3))
    assert where["key"] == "look.where"
    assert (where["values"]["region"], where["values"]["side"]) == (
        ("top", "middle", "bottom")[row],
        ("left", "centre", "right")[col],
    )
    assert where["values"]["share"] == pytest.approx(np.max(shares), rel=1e-4)
    assert where["link"] == {
        "tab": "explain",
        "image": 3,
        "snapshot": body["snapshot"],
        "layer": None,
    }
    deletion = result["meta"]["deletion_auc"][0]
    random = result["meta"]["deletion_random_auc"][0]
    assert faithful["key"] == ("look.faithful" if deletion < random else "look.unfaithful")
    assert faithful["values"]["auc"] == pytest.approx(deletion)
    assert faithful["values"]["random_auc"] == pytest.approx(random)


def test_where_it_decides_once_the_depth_view_measured_it(client, run_copy) -> None:
    _, run_id = run_copy
    (missing,) = answers(client.get(f"/api/runs/{run_id}/questions").json())["decide"]
    assert missing["key"] == "decide.missing" and missing["compute"] == {"depth": True}
    deadline = time.monotonic() + 120
    while True:
        depth = client.get(f"/api/runs/{run_id}/depth").json()
        if not depth["pending"]:
            break
        assert time.monotonic() < deadline, "the depth measures never finished"
    (fact,) = answers(client.get(f"/api/runs/{run_id}/questions").json())["decide"]
    probe = decode_array(depth["probe"])[:, -1]
    network = depth["network_probe"][-1]
    rows = [i for i in range(1, len(depth["layers"])) if depth["layers"][i] not in depth["same_as"]]
    reached = [i for i in rows if probe[i] >= 0.9 * network]
    if probe[0] >= 0.9 * network:
        assert fact["key"] == "decide.at_input"
        assert fact["values"]["layer"] == depth["layers"][rows[0]]
        assert fact["values"]["input"] == pytest.approx(probe[0])
    elif reached:
        assert fact["key"] == "decide.layer"
        assert fact["values"]["layer"] == depth["layers"][reached[0]]
        assert fact["values"]["accuracy"] == pytest.approx(probe[reached[0]])
        assert fact["link"]["layer"] == depth["layers"][reached[0]]
    else:
        assert fact["key"] == "decide.never"
    assert fact["values"]["network"] == pytest.approx(network)
    assert fact["values"]["snapshot"] == depth["snapshots"][-1]


def test_bad_questions_are_refused_by_name(client, run_copy) -> None:
    _, run_id = run_copy
    response = client.get(f"/api/runs/{run_id}/questions?image=100000")
    assert response.status_code == 422 and "image" in response.text
    assert client.get(f"/api/runs/{run_id}/questions?image=-1").status_code == 422
    assert client.get("/api/runs/no-such-run/questions").status_code == 404


def test_a_run_without_snapshots_says_so(client) -> None:
    created = client.post("/api/runs", json={"dataset": "digits", "arch": "mlp", "epochs": 1})
    assert created.status_code in (200, 201), created.text
    body = client.get(f"/api/runs/{created.json()['id']}/questions").json()
    keys = {question: [f["key"] for f in facts] for question, facts in answers(body).items()}
    assert keys["learn"] == ["learn.no_snapshot"]
    assert keys["look"] == ["look.no_snapshot"]
    assert keys["decide"] == ["decide.no_snapshot"]
