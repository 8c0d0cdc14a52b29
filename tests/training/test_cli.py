import json

import pytest

from convscope.cli import main


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--dataset", "nope"], ["dataset: unknown dataset 'nope'", "digits", "shapes"]),
        (["--arch", "nope"], ["arch: unknown architecture 'nope'", "small_cnn", "resnet_mini"]),
        (["--learning-rate", "0"], ["learning_rate:", "greater than 0"]),
        (["--learning-rate", "-1"], ["learning_rate:"]),
        (["--batch-size", "0"], ["batch_size:", "greater than or equal to 1"]),
        (["--epochs", "0"], ["epochs:"]),
        (["--epochs", "100000"], ["epochs:", "less than or equal to 200"]),
        (["--probe-size", "5000"], ["probe_size: 5000 is larger than the test set (359 images)"]),
        (["--eval-size", "100"], ["eval_size: 100 is smaller than the probe set (359 images)"]),
        (["--snapshots-per-epoch", "0"], ["snapshots_per_epoch:", "greater than or equal to 1"]),
        (["--arch", '{"blocks": [{"type": "conv", "filterz": 3}]}'], ["filterz", "unknown field"]),
    ],
)
def test_bad_training_input_gets_one_clear_message_and_exit_code_2(
    tmp_path, capsys, arguments, expected
):
    code = main(["train", "--dataset", "digits", "--store", str(tmp_path), *arguments])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("convscope: error: ")
    for fragment in expected:
        assert fragment in error
    assert "Traceback" not in error


def test_unknown_key_in_a_config_file_is_named(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('dataset = "digits"\nepochs = 1\nlearning_rat = 0.1\n')
    code = main(["train", "--config", str(config), "--store", str(tmp_path / "s")])
    assert code == 2
    assert "learning_rat: unknown field" in capsys.readouterr().err


def test_a_broken_config_file_is_reported(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text("{not json")
    assert main(["train", "--config", str(config)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_unwritable_store_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--store", str(blocker / "s")])
    assert code == 2
    assert str(blocker / "s") in capsys.readouterr().err


def test_datasets_lists_what_is_here(capsys):
    assert main(["datasets", "--json"]) == 0
    infos = {info["name"]: info for info in json.loads(capsys.readouterr().out)}
    assert infos["digits"]["available"] and infos["shapes"]["available"]
    assert {"fashion_mnist", "mnist", "cifar10", "folder"} <= set(infos)
    assert main(["datasets"]) == 0
    assert "digits" in capsys.readouterr().out


def test_runs_and_show_list_a_recorded_run_and_bad_input_loses_nothing(
    digits_run, tmp_path, capsys
):
    _, summary, store = digits_run
    store_dir = str(store.root)
    # A refused invocation against the same store changes nothing in it.
    assert main(["train", "--dataset", "digits", "--lr", "0", "--store", store_dir]) == 2
    capsys.readouterr()
    assert main(["runs", "--store", store_dir, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [run["id"] for run in runs] == [summary["run_id"]]
    assert main(["show", summary["run_id"], "--store", store_dir, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["snapshots"]) == 8 and shown["snapshots"][-1]["epoch"] == 3.0
    assert main(["show", summary["run_id"], "--store", store_dir]) == 0
    assert "val acc" in capsys.readouterr().out
    assert main(["show", "0123456789ab", "--store", store_dir]) == 2
    assert "0123456789ab" in capsys.readouterr().err


def test_a_folder_dataset_trains_from_its_path(tmp_path, capsys):
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for class_index, name in enumerate(("circle", "square")):
        folder = tmp_path / "pets" / name
        folder.mkdir(parents=True)
        for i in range(12):
            pixels = np.full((10, 10, 3), 60 + 120 * class_index, np.uint8)
            pixels += rng.integers(0, 20, pixels.shape, dtype=np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            (folder / f"{i}.png").write_bytes(buffer.getvalue())
    arguments = ["train", "--dataset", "folder", "--dataset-path", str(tmp_path / "pets")]
    arguments += ["--arch", "mlp", "--epochs", "1", "--store", str(tmp_path / "s"), "--json"]
    assert main(arguments) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "done"
    assert main(["show", summary["run_id"], "--store", str(tmp_path / "s"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["dataset_options"] == {"path": str((tmp_path / "pets").resolve())}
    assert shown["class_names"] == ["circle", "square"]
    # Without a path, the message says what the folder dataset needs.
    assert main(["train", "--dataset", "folder", "--store", str(tmp_path / "s")]) == 2
    assert "needs a path" in capsys.readouterr().err


def test_serve_refuses_an_unknown_executor(capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--executor", "spark"])
    assert info.value.code == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_show_takes_any_unique_id_prefix_and_lists_the_matches_of_an_ambiguous_one(
    tmp_path, capsys
):
    from convscope.store import Store

    store_dir = tmp_path / "store"
    with Store(store_dir) as store:
        # 17 runs: two of them share their first character (there are 16).
        ids = [store.create_run({"dataset": "digits"}, source="cli").id for _ in range(17)]
    by_first: dict[str, list[str]] = {}
    for run_id in ids:
        by_first.setdefault(run_id[0], []).append(run_id)
    shared = next(group for group in by_first.values() if len(group) > 1)
    assert main(["show", shared[0][0], "--store", str(store_dir)]) == 2
    error = capsys.readouterr().err
    assert "several run ids" in error and "give more characters" in error
    for run_id in shared:
        assert run_id in error
    unique = next(run_id[:7] for run_id in ids if sum(i.startswith(run_id[:7]) for i in ids) == 1)
    assert main(["show", unique.upper(), "--store", str(store_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"].startswith(unique)
    assert main(["show", "fffffffffffe", "--store", str(store_dir)]) == 2
    assert "no run with id starting with 'fffffffffffe'" in capsys.readouterr().err
    assert main(["show", "not-an-id", "--store", str(store_dir)]) == 2
    assert "12 hexadecimal characters" in capsys.readouterr().err
    # At 80 columns the runs table keeps every id whole, for copying.
    assert main(["runs", "--store", str(store_dir)]) == 0
    table = capsys.readouterr().out
    assert all(run_id in table for run_id in ids)


def test_train_prints_its_summary_line_on_stdout(tmp_path, capsys):
    store_dir = str(tmp_path / "store")
    arguments = ["--dataset", "digits", "--train-size", "200", "--epochs", "1"]
    assert main(["train", *arguments, "--snapshots-per-epoch", "1", "--store", store_dir]) == 0
    captured = capsys.readouterr()
    line = captured.out.strip().splitlines()[-1]
    assert line.startswith("Run ") and ": done, 4 snapshots, val accuracy " in line
    assert "convscope show" in captured.err
