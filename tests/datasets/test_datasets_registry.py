"""The registry, option checking and dataset descriptions."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from convscope.datasets import (
    Dataset,
    DatasetSource,
    dataset_info,
    dataset_names,
    dataset_options,
    list_datasets,
    load_dataset,
    register_dataset,
)
from convscope.datasets import base as datasets_base
from convscope.errors import InvalidInput

EXPECTED = ["digits", "shapes", "fashion_mnist", "mnist", "cifar10", "folder"]


def test_registry_holds_every_source_in_order() -> None:
    assert dataset_names() == EXPECTED


def test_unknown_dataset_lists_the_choices() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_dataset("imagenet")
    assert caught.value.field == "dataset"
    assert caught.value.choices == EXPECTED
    assert "imagenet" in str(caught.value) and "fashion_mnist" in str(caught.value)


def test_unknown_option_names_the_option_and_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_dataset("shapes", colour="red")
    assert caught.value.field == "colour"
    assert caught.value.choices == ["image_size", "train_count", "test_count", "generation_seed"]


def test_a_dataset_without_options_says_so() -> None:
    with pytest.raises(InvalidInput, match="takes no options") as caught:
        load_dataset("digits", image_size=16)
    assert caught.value.field == "image_size"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (8, "at least 16"),
        (512, "at most 128"),
        ("big", "a number"),
        (True, "a number"),
        (2.5, "whole"),
    ],
)
def test_option_values_are_checked(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        dataset_info("shapes", image_size=value)
    assert caught.value.field == "image_size"


def test_option_values_given_as_text_are_converted() -> None:
    info = dataset_info("shapes", image_size="48", train_count="60")
    assert info.image_shape == (48, 48, 3)
    assert info.train_count == 60
    assert dataset_info("folder", grayscale="yes").image_shape == (32, 32, 1)


def test_dataset_options_describe_defaults() -> None:
    options = {option.name: option for option in dataset_options("folder")}
    assert options["test_fraction"].default == 0.2
    assert options["grayscale"].default is False
    assert dataset_options("digits") == []
    described = json.loads(json.dumps(options["image_size"].describe()))
    assert described == {
        "name": "image_size",
        "type": "int",
        "default": 32,
        "help": "Images are resized to this height and width.",
        "minimum": 8,
        "maximum": 256,
        "is_path": False,
    }
    assert options["path"].is_path  # the one option a web client may not set


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_dataset("digits", title="Again", description="A second digits.")
        class Again(DatasetSource):
            pass

    assert dataset_names() == EXPECTED


def test_a_new_source_registers_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets_base, "_REGISTRY", dict(datasets_base._REGISTRY))

    @register_dataset("blank", title="Blank", description="Zeros.")
    class Blank(DatasetSource):
        def describe(self, data_dir, options):  # type: ignore[no-untyped-def]
            return self.info(available=True, location="generated")

        def load(self, data_dir, options):  # type: ignore[no-untyped-def]
            zeros = np.zeros((4, 2, 2, 1), np.uint8)
            labels = np.array([0, 1, 0, 1])
            return Dataset(self.name, zeros, labels, zeros, labels, ("a", "b"), "generated")

    assert dataset_names()[-1] == "blank"
    assert load_dataset("blank").num_classes == 2


def test_list_datasets_is_json_and_offline(keras_downloads: list[str]) -> None:
    infos = list_datasets()
    assert [info.name for info in infos] == EXPECTED
    payload = json.loads(json.dumps([dataclasses.asdict(info) for info in infos]))
    by_name = {entry["name"]: entry for entry in payload}
    assert by_name["digits"]["available"] and by_name["digits"]["location"] == "scikit-learn"
    assert by_name["digits"]["image_shape"] == [8, 8, 1]
    assert by_name["shapes"]["location"] == "generated"
    assert by_name["shapes"]["class_names"][:2] == ["circle", "square"]
    for name in ("fashion_mnist", "mnist", "cifar10"):
        assert not by_name[name]["available"]
        assert "Looked in" in by_name[name]["reason"]
    assert not by_name["folder"]["available"]
    assert "needs a path" in by_name["folder"]["reason"]
    assert keras_downloads == []


def test_dataset_rejects_inconsistent_arrays() -> None:
    images = np.zeros((3, 4, 4, 1), np.uint8)
    with pytest.raises(ValueError, match="one label per image"):
        Dataset("x", images, np.zeros(2, np.int64), images, np.zeros(3), ("a",), "test")
    with pytest.raises(ValueError, match="uint8"):
        Dataset("x", images.astype(np.float32), np.zeros(3), images, np.zeros(3), ("a",), "t")
