import os
import signal
import subprocess
import sys
import time

from convscope.store import Store


def snapshots_recorded(store_dir):
    """Snapshots of the store's one run so far, read through a fresh connection."""
    if not (store_dir / "convscope.db").exists():
        return 0
    with Store(store_dir) as store:
        runs = store.list_runs()
        return runs[0].num_snapshots if runs else 0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        # A terminal's Ctrl-C, even when the tests run in a background shell (whose
        # children start with SIGINT ignored, as `convscope train &` would).
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 180
        while snapshots_recorded(store_dir) < 5:  # 5 snapshots: inside the second epoch
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "no 5 snapshots within 180 s"
            time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-2000:]
    assert '"status": "interrupted"' in stdout
    # TensorFlow's native start-up notices are kept off the terminal.
    assert "oneDNN" not in stderr and "absl::InitializeLog" not in stderr
    store = Store(store_dir)
    run = store.list_runs()[0]
    assert run.status == "interrupted"
    snapshots = store.list_snapshots(run.id)
    assert len(snapshots) >= 5
    for snapshot in snapshots:
        arrays = store.snapshot_arrays(run.id, snapshot.index)
        assert arrays["logits"].shape[0] == 600
        assert store.snapshot_weights_path(run.id, snapshot.index).exists()
    store.close()
