"""Attribution lenses: time per request in the inspection worker, and against tf-keras-vis.

small_cnn trained briefly on 28x28 Fashion-MNIST (generated 32x32 ``shapes`` where
Fashion-MNIST is not installed), ten snapshots. Every lens runs on one probe image, warm
(each request once before timing), in a real inspection worker process, as the web app
runs it; each figure is the median of several requests, printed beside its goal. Then,
side by side in this process on the same model and image, Grad-CAM and saliency against
tf-keras-vis, with the correlation of the maps. tf-keras-vis is no dependency of
convscope: the script installs it, without its dependencies (convscope's cover them), into
``bench-packages`` inside the virtual environment, a folder only this script puts on its
path, since its wheel also ships a top-level ``tests`` package that would shadow this
project's tests in site-packages.

    python bench/attribution.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import convscope
from convscope import lenses
from convscope.config import Settings
from convscope.datasets import dataset_info
from convscope.inspection.pool import InspectionPool
from convscope.inspection.requests import LensRequest
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.runner import create_run, train_run

#: (label, lens, parameters, snapshots: "one" or "all", goal in milliseconds)
CASES = [
    ("Grad-CAM", "grad_cam", {}, "one", 50),
    ("saliency", "saliency", {}, "one", 50),
    ("integrated gradients, 64 steps", "integrated_gradients", {"steps": 64}, "one", 400),
    ("occlusion, 4-pixel patch, stride 2", "occlusion", {"patch": 4, "stride": 2}, "one", 1000),
    ("deletion + insertion curves (saliency)", "faithfulness", {}, "one", 1000),
    ("Grad-CAM training strip, every snapshot", "grad_cam", {}, "all", 2000),
]


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``call`` in milliseconds, after one untimed warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def train(store: Store) -> tuple[str, int]:
    """A short small_cnn run with ten snapshots; returns its id and snapshot count."""
    name = "fashion_mnist" if dataset_info("fashion_mnist").available else "shapes"
    config = RunConfig(
        dataset=name,
        arch="small_cnn",
        train_size=3000,
        test_size=300,
        probe_size=100,
        epochs=7,  # with the three early snapshots of the first epoch: ten
    )
    run = create_run(store, config, source="cli")
    record = train_run(store, run.id)
    assert record.status == "done", record.error
    count = len(store.list_snapshots(run.id))
    accuracy = (record.final_metrics or {}).get("val_accuracy")
    print(f"small_cnn on {name}: {count} snapshots, validation accuracy {accuracy:.3f}")
    return run.id, count


#: Where tf-keras-vis is installed: inside the environment, outside its site-packages.
BENCH_PACKAGES = Path(sys.prefix) / "bench-packages"
#: tf-keras-vis and what it needs beyond convscope's own dependencies.
TF_KERAS_VIS = ["tf-keras-vis==0.8.7", "deprecated", "imageio"]


def tf_keras_vis() -> bool:
    """Make tf-keras-vis importable from ``BENCH_PACKAGES``, installing it there if needed."""
    if str(BENCH_PACKAGES) not in sys.path:
        sys.path.append(str(BENCH_PACKAGES))
    if importlib.util.find_spec("tf_keras_vis") is None:
        print(f"installing tf-keras-vis into {BENCH_PACKAGES} (for this benchmark only)")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        command += ["--target", str(BENCH_PACKAGES), *TF_KERAS_VIS]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"tf-keras-vis could not be installed: {result.stderr.strip()[-500:]}")
            return False
        importlib.invalidate_caches()
    return importlib.util.find_spec("tf_keras_vis") is not None


def correlation(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


def compare_with_tf_keras_vis(
    store: Store,
    run_id: str,
    snapshot: int,
    image: np.ndarray,
    worker_ms: dict[str, float],
    repeats: int,
) -> None:
    """Grad-CAM and saliency, convscope against tf-keras-vis, same model and image."""
    if not tf_keras_vis():
        return
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    model = convscope.load_model(store, run_id, snapshot=snapshot)
    target = int(lenses.compute("saliency", model, image).meta["targets"][0])
    layer = lenses.compute("grad_cam", model, image).meta["layer"]
    score = CategoricalScore([target])
    # clone=False: both libraries look at the same model; it ends in logits already.
    gradcam, saliency = Gradcam(model, clone=False), Saliency(model, clone=False)
    theirs = {
        "grad_cam": lambda: gradcam(score, image, penultimate_layer=layer),
        "saliency": lambda: saliency(score, image),
    }
    print(
        f"\nside by side with tf-keras-vis, one image, target class {target}, median of {repeats}:"
    )
    header = ("method", "tf-keras-vis", "convscope", "(worker)", "speed-up", "map correlation")
    print("{:12} {:>13} {:>11} {:>10} {:>9} {:>16}".format(*header))
    for name, title in (("grad_cam", "Grad-CAM"), ("saliency", "saliency")):
        ours = median_ms(
            lambda name=name: lenses.compute(name, model, image, target=target), repeats
        )
        other = median_ms(theirs[name], repeats)
        our_map = lenses.compute(name, model, image, target=target).arrays["map"]
        their_map = np.asarray(theirs[name]())
        print(
            f"{title:12} {other:10.1f} ms {ours:8.1f} ms {worker_ms[name]:7.1f} ms "
            f"{other / worker_ms[name]:8.1f}x {correlation(our_map, their_map):16.4f}"
        )
    print("(speed-up: tf-keras-vis in this process against convscope in its worker, goal >= 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = Store(Path(directory))
        run_id, count = train(store)
        image = store.read_run_arrays(run_id, "probe")["images"][:1].astype(np.float32)
        last = count - 1
        pool = InspectionPool(Settings(store_dir=Path(directory), workers=0, inspection_workers=1))
        pool.start()
        try:
            assert pool.wait_ready(120), "the inspection worker did not start"
            size = f"{image.shape[1]}x{image.shape[2]}"
            print(f"\nin the inspection worker, one {size} image, warm, median of {args.repeats}:")
            print(f"{'lens':42} {'time':>9} {'goal':>9}")
            worker_ms: dict[str, float] = {}
            for label, name, params, snapshots, goal in CASES:
                chosen = tuple(range(count)) if snapshots == "all" else (last,)
                request = LensRequest(run_id, name, chosen, image, "predicted", params)
                elapsed = median_ms(lambda request=request: pool.run(request), args.repeats)
                if snapshots == "one":
                    worker_ms.setdefault(name, elapsed)
                label = label.replace("every snapshot", f"{count} snapshots")
                verdict = "ok" if elapsed <= goal else "OVER"
                print(f"{label:42} {elapsed:6.1f} ms {goal:6d} ms  {verdict}")
        finally:
            pool.stop()
        compare_with_tf_keras_vis(store, run_id, last, image, worker_ms, args.repeats)
        store.close()


if __name__ == "__main__":
    main()
