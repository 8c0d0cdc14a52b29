"""``convscope sweep``: a sweep file queued, trained by local workers on a PostgreSQL store,
and reported best first; bad files get one clear message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from convscope.cli import main
from convscope.store import Store

SWEEP_TOML = """
name = "rates"
method = "grid"

[base]
dataset = "digits"
arch = "mlp"
epochs = 2
train_size = 200
probe_size = 50
snapshot_fractions = []

[parameters]
learning_rate = [0.01, 0.000001]

[early_stopping]
rule = "none"
"""


@pytest.mark.slow
def test_a_sweep_trains_every_run_on_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_for: Callable[[str], str | None]
) -> None:
    url = database_for("postgresql")
    assert url is not None
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(SWEEP_TOML)
    store_dir = tmp_path / "store"
    code = main(["sweep", str(sweep_file), "--store", str(store_dir), "--db", url, "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    runs = report["runs"]
    assert [run["status"] for run in runs] == ["done", "done"]
    # Best first: a learning rate of 0.01 learns digits in two epochs, 1e-6 does not.
    assert [run["values"]["learning_rate"] for run in runs] == [0.01, 0.000001]
    assert runs[0]["final_accuracy"] > runs[1]["final_accuracy"]
    with Store(store_dir, url=url) as store:
        sweep = store.get_sweep(report["sweep_id"])
        assert sorted(sweep.run_ids) == sorted(run["run_id"] for run in runs)
        for run_id in sweep.run_ids:
            snapshots = store.list_snapshots(run_id)
            assert [s.epoch for s in snapshots] == [1.0, 2.0]
            assert (
                runs[[r["run_id"] for r in runs].index(run_id)]["final_accuracy"]
                == (snapshots[-1].metrics["val_accuracy"])
            )
    # The same database is read by `convscope runs --db`.
    assert main(["runs", "--store", str(store_dir), "--db", url, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(run["id"] for run in listed) == sorted(sweep.run_ids)


def test_no_wait_only_queues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep_file = tmp_path / "sweep.json"
    sweep_file.write_text(
        json.dumps({"base": {"dataset": "digits"}, "parameters": {"seed": [1, 2, 3]}, "budget": 3})
    )
    store_dir = tmp_path / "store"
    assert main(["sweep", str(sweep_file), "--store", str(store_dir), "--no-wait", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [run["status"] for run in report["runs"]] == ["queued"] * 3
    with Store(store_dir) as store:
        assert [run.config["seed"] for run in store.sweep_runs(report["sweep_id"])] == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ('{"parameters": {"dataset": ["digits"]}}', "'dataset' cannot be varied"),
        ('{"parameters": {"learning_rate": [0.1, -2]}}', "parameters.learning_rate:"),
        ('{"parameters": {"seed": [1, 2, 3]}, "budget": 2}', "budget: the grid has 3"),
        (
            '{"base": {"dataset": "digits", "train_size": 99999}, "parameters": {"seed": [1]}}',
            "train_size",
        ),
    ],
)
def test_a_bad_sweep_file_gets_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    sweep_file = tmp_path / "sweep.json"
    sweep_file.write_text(text)
    code = main(["sweep", str(sweep_file), "--store", str(tmp_path / "store"), "--no-wait"])
    error = capsys.readouterr().err
    assert code == 2 and expected in error and "Traceback" not in error
    if (tmp_path / "store").exists():
        with Store(tmp_path / "store") as store:
            assert store.list_runs() == []
