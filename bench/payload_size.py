"""How many bytes the browser receives per snapshot of 1,000 probe images.

Records a short run (small_cnn, 1,000 probe images: Fashion-MNIST, or ``shapes`` where it
is not installed), then asks the real API for each snapshot, as the web app does, and
prints the payload size raw and gzip-compressed against the 200 KB goal, beside the sprite
atlas that carries the images once.

    python bench/payload_size.py
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from convscope.config import Settings
from convscope.datasets import dataset_info
from convscope.server.app import create_app
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.runner import create_run, train_run

GOAL_BYTES = 200_000


def main() -> None:
    name = "fashion_mnist" if dataset_info("fashion_mnist").available else "shapes"
    config = RunConfig(
        dataset=name,
        train_size=2_000,
        test_size=2_000 if name == "fashion_mnist" else None,
        epochs=1,
        probe_size=1_000,
    )
    with tempfile.TemporaryDirectory() as directory:
        store = Store(directory)
        run = train_run(store, create_run(store, config, source="cli").id)
        print(
            f"{name}: run {run.id} {run.status}, {run.num_snapshots} snapshots, 1,000 probe images"
        )
        app = create_app(Settings(store_dir=Path(directory)), start_workers=False)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            sizes = []
            for index in range(run.num_snapshots):
                body = client.get(f"/api/runs/{run.id}/snapshots/{index}").content
                sizes.append((len(body), len(gzip.compress(body))))
            atlas = client.get(client.get(f"/api/runs/{run.id}/probe").json()["atlas_url"])
        store.close()
    largest_raw = max(raw for raw, _ in sizes)
    largest_gzip = max(packed for _, packed in sizes)
    print(
        f"per-snapshot payload: {largest_raw / 1000:.1f} KB raw, {largest_gzip / 1000:.1f} KB "
        f"gzip (goal <= {GOAL_BYTES / 1000:.0f} KB): ratio to goal {largest_raw / GOAL_BYTES:.2f}"
    )
    print(f"sprite atlas, sent once: {len(atlas.content) / 1000:.1f} KB PNG")


if __name__ == "__main__":
    main()
