import numpy as np

from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.runner import AugmentedBatches, create_run, train_run


def test_shifts_move_the_image_and_flips_mirror_it():
    image = np.zeros((1, 8, 8, 1), np.uint8)
    image[0, 3, 3, 0] = 255
    labels = np.array([1])
    shifted = AugmentedBatches(image, labels, RunConfig(augment_shift=0.25, seed=3))
    seen = {tuple(np.argwhere(shifted[0][0][0, ..., 0])[0]) for _ in range(40)}
    assert len(seen) > 5  # the bright pixel lands in many places
    assert all(1 <= y <= 5 and 1 <= x <= 5 for y, x in seen)  # at most 2 pixels away
    flipped = AugmentedBatches(image, labels, RunConfig(augment_flip=True, seed=0))
    columns = {int(np.argwhere(flipped[0][0][0, ..., 0])[0][1]) for _ in range(40)}
    assert columns == {3, 4}  # as it is, or mirrored
    assert flipped[0][1].tolist() == [1]


def test_batches_cover_every_image_once_per_epoch():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    batches = AugmentedBatches(images, np.arange(10), RunConfig(batch_size=4, augment_flip=True))
    assert len(batches) == 3
    first = sorted(int(v) for i in range(3) for v in batches[i][0].ravel())
    batches.on_epoch_end()
    second = [int(v) for i in range(3) for v in batches[i][0].ravel()]
    assert first == list(range(10)) and sorted(second) == first


def test_a_run_with_augmentation_trains_and_records(tmp_path):
    store = Store(tmp_path)
    config = RunConfig(dataset="digits", epochs=1, augment_shift=0.1, augment_flip=True)
    run = train_run(store, create_run(store, config, source="cli").id)
    assert run.status == "done", run.error
    assert run.num_snapshots == 4  # 1/8, 1/4, 1/2 and the end of the epoch
    assert run.final_metrics["val_accuracy"] > 0.3
    store.close()
