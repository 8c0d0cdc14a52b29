"""The three questions' facts, from hand-built arrays and from a real trained run."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import questions as q
from convscope.store import Store

NAMES = ["cat", "dog", "owl"]


def logits_for(predictions: list[int], classes: int = 3) -> np.ndarray:
    out = np.zeros((len(predictions), classes), np.float16)
    out[np.arange(len(predictions)), predictions] = 5
    return out


def test_milestones_name_the_first_snapshot_past_each_threshold() -> None:
    facts = q.accuracy_milestones(
        [0.25, 0.5, 1.0, 2.0], [10, 20, 40, 80], np.array([0.3, 0.6, 0.55, 0.95])
    )
    assert [f.key for f in facts] == ["learn.milestone", "learn.milestone"]
    assert facts[0].values | {} == {
        "threshold": 0.5,
        "epoch": 0.5,
        "step": 20,
        "snapshot": 1,
        "accuracy": 0.6,
    }
    assert facts[1].values["snapshot"] == 3 and facts[1].link == {"tab": "training", "snapshot": 3}


def test_a_missed_milestone_says_how_close_it_came() -> None:
    facts = q.accuracy_milestones([1.0, 2.0], [5, 10], np.array([0.7, 0.65]))
    assert facts[1].key == "learn.milestone_missed"
    assert facts[1].values == {"threshold": 0.9, "best": 0.7, "epoch": 1.0, "snapshot": 0}


def test_classes_learned_last_and_never() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    correct = np.array(
        [
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 1, 0],
        ],
        dtype=bool,
    )
    fact = q.classes_learned_last(correct, labels, NAMES, [0.5, 1.0, 2.0])
    assert fact is not None and fact.key == "learn.last_classes"
    owl, dog = fact.values["classes"]
    assert owl == {"name": "owl", "epoch": None, "snapshot": None}  # 50% at best
    assert dog == {"name": "dog", "epoch": 1.0, "snapshot": 1}
    assert q.classes_learned_last(np.zeros((0, 6), bool), labels, NAMES, []) is None


def test_most_forgotten_image_or_none() -> None:
    labels = np.array([0, 1, 2])
    correct = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=bool)
    fact = q.most_forgotten(correct, labels, NAMES)
    assert fact.key == "learn.most_forgotten"
    assert fact.values == {
        "image": 0,
        "class": "cat",
        "events": 2,
        "forgotten_images": 2,
        "images": 3,
        "top": [
            {"image": 0, "class": "cat", "events": 2},
            {"image": 1, "class": "dog", "events": 1},
        ],
    }
    assert fact.link == {"tab": "training", "image": 0}
    steady = q.most_forgotten(np.ones((3, 3), bool), labels, NAMES)
    assert steady.key == "learn.none_forgotten" and steady.values == {"snapshots": 3}


def test_the_most_confused_pair_and_when_it_peaked() -> None:
    early = np.array([[5, 5, 0], [5, 5, 0], [0, 0, 10]])
    late = np.array([[9, 1, 0], [0, 8, 2], [0, 1, 9]])
    fact = q.most_confused_pair([early, late], NAMES, [0.5, 1.0])
    assert fact is not None
    assert (fact.values["first"], fact.values["second"]) == ("dog", "owl")
    assert fact.values["share"] == pytest.approx(3 / 20)
    assert fact.values["peak_snapshot"] == 1
    perfect = np.diag([10, 10, 10])
    assert q.most_confused_pair([perfect], NAMES, [1.0]) is None
    assert q.most_confused_pair([], NAMES, []) is None


def test_a_run_without_snapshots_says_so() -> None:
    answer = q.learning_answer([], np.array([0, 1]), [], [], [], NAMES)
    assert [f.key for f in answer.facts] == ["learn.no_snapshot"]


def test_where_the_map_looks_and_how_much_falls_on_the_object() -> None:
    heatmap = np.zeros((9, 9))
    heatmap[0:3, 6:9] = 1.0  # top right
    heatmap[4, 4] = 1.0
    mask = np.zeros((9, 9), bool)
    mask[0:3, 6:9] = True
    where, on_object = q.attention_facts(heatmap, image=4, target="owl", mask=mask)
    assert where.values == {
        "image": 4,
        "target": "owl",
        "region": "top",
        "side": "right",
        "share": 0.9,
    }
    assert on_object.values["share"] == pytest.approx(0.9)
    assert on_object.values["object_share"] == pytest.approx(9 / 81)
    assert q.attention_facts(np.zeros((4, 4)), image=1, target="cat")[0].key == "look.flat"


def test_faithfulness_against_a_random_map() -> None:
    assert q.faithfulness_fact(image=1, deletion_auc=0.2, random_deletion_auc=0.5).key == (
        "look.faithful"
    )
    assert q.faithfulness_fact(image=1, deletion_auc=0.6, random_deletion_auc=0.5).key == (
        "look.unfaithful"
    )


def test_the_decision_layer_is_the_first_near_the_networks_accuracy() -> None:
    layers = ["input", "conv1", "conv2", "dense1"]
    fact = q.decision_layer(layers, [0.4, 0.6, 0.85, 0.93], network_accuracy=0.92)
    assert fact.key == "decide.layer"
    assert fact.values["layer"] == "conv2" and fact.values["position"] == 2
    assert fact.link == {"tab": "depth", "layer": "conv2"}
    repeated = q.decision_layer(
        ["input", "rescale", "conv1", "conv2"],
        [0.4, 0.4, 0.9, 0.93],
        network_accuracy=0.92,
        same_as={"rescale": "input"},
    )
    assert repeated.values["layer"] == "conv1" and repeated.values["position"] == 2
    at_input = q.decision_layer(
        ["input", "rescale", "conv1"], [0.85, 0.85, 0.9], 0.92, same_as={"rescale": "input"}
    )
    assert at_input.key == "decide.at_input"
    assert at_input.values["input"] == 0.85 and at_input.values["layer"] == "conv1"
    never = q.decision_layer(layers, [0.4, 0.5, 0.6, 0.7], network_accuracy=0.95)
    assert never.key == "decide.never" and never.values["best_layer"] == "dense1"


def test_the_grad_cam_answer_names_where_it_looks_and_how_faithful_it_is() -> None:
    heatmap = np.zeros((6, 6))
    heatmap[4:6, 0:2] = 2.0  # bottom left
    heatmap[0, 5] = 1.0
    answer = q.looking_answer(
        image=7,
        snapshot=3,
        target="dog",
        heatmap=heatmap,
        deletion_auc=0.21,
        random_deletion_auc=0.48,
        truth="cat",
    )
    where, faithful = answer.facts
    assert where.key == "look.where"
    assert (where.values["region"], where.values["side"]) == ("bottom", "left")
    assert where.values["share"] == pytest.approx(8 / 9)
    assert (where.values["target"], where.values["truth"]) == ("dog", "cat")
    assert where.link == {"tab": "explain", "image": 7, "snapshot": 3}
    assert faithful.key == "look.faithful"
    assert faithful.values == {"image": 7, "auc": 0.21, "random_auc": 0.48}


def test_without_a_grad_cam_map_the_answer_says_what_computes_it() -> None:
    answer = q.looking_answer(image=2, snapshot=5)
    (missing,) = answer.facts
    assert missing.key == "look.missing"
    assert missing.link == {"tab": "explain", "image": 2, "snapshot": 5}
    assert missing.compute == {
        "lens": "faithfulness",
        "snapshot": 5,
        "image": {"probe": 2},
        "target": "predicted",
        "params": {"lens": "grad_cam"},
    }
    assert q.looking_answer(image=0, snapshot=None).facts[0].key == "look.no_snapshot"


def test_where_it_decides_from_a_depth_record_or_what_computes_it() -> None:
    answer = q.deciding_answer(
        ["input", "conv1", "pool1", "dense1", "logits"],
        [0.3, 0.5, 0.8, 0.88, 0.9],
        0.9,
        snapshot=4,
    )
    (fact,) = answer.facts
    assert fact.key == "decide.layer"
    # 90 % of 0.9 is 0.81: pool1 (0.8) falls short, dense1 (0.88) is the first past it.
    assert fact.values["layer"] == "dense1" and fact.values["position"] == 3
    assert fact.values["snapshot"] == 4 and fact.values["input"] == pytest.approx(0.3)
    assert fact.link == {"tab": "depth", "snapshot": 4, "layer": "dense1"}
    missing = q.deciding_answer(None, None, None, snapshot=None)
    assert missing.facts[0].key == "decide.missing"
    assert missing.facts[0].compute == {"depth": True}
    assert missing.facts[0].link == {"tab": "depth"}
    empty = q.deciding_answer(None, None, None, snapshot=None, has_snapshots=False)
    assert empty.facts[0].key == "decide.no_snapshot"


def test_learning_answer_on_a_real_run(trained_run) -> None:
    with Store(trained_run.store_dir) as store:
        labels = store.read_run_arrays(trained_run.run_id, "probe")["labels"]
        records = store.list_snapshots(trained_run.run_id)
        arrays = [store.snapshot_arrays(trained_run.run_id, r.index) for r in records]
        names = store.get_run(trained_run.run_id).class_names
    answer = q.learning_answer(
        [a["logits"] for a in arrays],
        labels,
        [a["confusion"] for a in arrays],
        [r.epoch for r in records],
        [r.step for r in records],
        names,
    )
    accuracy = q.probe_accuracies([a["logits"] for a in arrays], labels)
    milestone = answer.facts[0]
    if milestone.key == "learn.milestone":
        at = milestone.values["snapshot"]
        assert accuracy[at] >= 0.5 and (at == 0 or accuracy[:at].max() < 0.5)
    else:
        assert milestone.values["best"] == pytest.approx(accuracy.max())
    keys = {f.key for f in answer.facts}
    assert "learn.last_classes" in keys
    print({f.key: f.values for f in answer.facts})
