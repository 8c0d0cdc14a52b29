import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from convscope.store import Store

USER_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import keras
    import convscope
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]   # floats in [0, 1]
    y = digits.target
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rec = convscope.Recorder(store=STORE, probe=(x_test, y_test), probe_size=100,
                             class_names=[f"digit {i}" for i in range(10)], name="notebook")
    model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=2,
              batch_size=32, callbacks=[rec], verbose=0)
    print(rec.run_id)
    """
)


def test_recorder_in_a_plain_user_script_with_a_sequential_softmax_model(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(f"STORE = {str(tmp_path / 'store')!r}\n" + USER_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_id = result.stdout.strip().splitlines()[-1]
    store = Store(tmp_path / "store")
    run = store.get_run(run_id)
    assert (run.status, run.source, run.name) == ("done", "notebook", "notebook")
    assert run.class_names[3] == "digit 3"
    assert run.config["optimizer"] == "adam" and run.config["learning_rate"] == 0.001
    assert run.config["model"] == "sequential" and run.config["epochs"] == 2
    snapshots = store.list_snapshots(run_id)
    # 1,400 images in batches of 32: 44 steps; snapshots after batches 6, 11 and 22 of the
    # first epoch, then every half epoch.
    assert [s.epoch for s in snapshots] == [6 / 44, 11 / 44, 22 / 44, 1.0, 1 + 22 / 44, 2.0]
    probe = store.read_run_arrays(run_id, "probe")
    # Float inputs in [0, 1] are kept for re-running the model and shown as uint8.
    assert probe["images"].dtype == np.uint8 and probe["images"].max() > 200
    assert probe["inputs"].dtype == np.float32 and probe["inputs"].max() <= 1.0
    arrays = store.snapshot_arrays(run_id, len(snapshots) - 1)
    # A softmax model's logits are its log-probabilities: their softmax sums to one and
    # their argmax agrees with the model's accuracy.
    logits = arrays["logits"].astype(np.float32)
    assert logits.shape == (100, 10)
    assert np.all(logits <= 0.01)
    assert arrays["embedding"].shape == (100, 32)
    assert run.final_metrics["val_accuracy"] > 0.5
    store.close()


def test_a_notebook_run_whose_process_dies_is_found_interrupted(tmp_path):
    script = tmp_path / "killed_script.py"
    endless = USER_SCRIPT.replace("epochs=2,", "epochs=200,")
    script.write_text(f"STORE = {str(tmp_path / 'store')!r}\n" + endless)
    process = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, "the script ended before it was killed"
            assert time.monotonic() < deadline, "no snapshot within 180 s"
            if (tmp_path / "store" / "convscope.db").exists():
                with Store(tmp_path / "store") as store:
                    runs = store.list_runs()
                    if runs and runs[0].num_snapshots >= 1:
                        assert runs[0].status == "running"
                        break
            time.sleep(0.3)
        process.send_signal(signal.SIGKILL)  # a notebook kernel that dies
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # No server runs: reading the store is enough to see that the run will never finish.
    with Store(tmp_path / "store") as store:
        run = store.list_runs()[0]
        assert run.status == "interrupted"
        assert f"pid {process.pid}" in run.error
        assert store.list_snapshots(run.id)
