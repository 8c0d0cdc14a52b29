import os
import signal
import subprocess
import sys
import time

from convscope.store import Store


def test_ctrl_c_mid_training_marks_the_run_interrupted_and_keeps_snapshots(tmp_path):
    store_dir = tmp_path / "store"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "convscope.cli",
            "train",
            "--dataset",
            "shapes",
            "--epochs",
            "50",
            "--store",
            str(store_dir),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 180
        store = None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if store is None and (store_dir / "convscope.db").exists():
                store = Store(store_dir)
            runs = store.list_runs() if store else []
            if runs and runs[0].num_snapshots >= 4:  # inside the second epoch
                break
            assert process.poll() is None, process.stderr.read()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-2000:]
    assert '"status": "interrupted"' in stdout
    store = Store(store_dir)
    run = store.list_runs()[0]
    assert run.status == "interrupted"
    snapshots = store.list_snapshots(run.id)
    assert len(snapshots) >= 4
    for snapshot in snapshots:
        arrays = store.snapshot_arrays(run.id, snapshot.index)
        assert arrays["logits"].shape[0] == 600
        assert store.snapshot_weights_path(run.id, snapshot.index).exists()
    store.close()
