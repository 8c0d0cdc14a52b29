"""Sweep specs: grid and seeded random expansion, validation, and the median stopping rule."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from convscope.errors import InvalidInput
from convscope.training.sweep import (
    EarlyStopping,
    SweepSpec,
    best_so_far,
    expand,
    median_stops,
    run_configs,
)


def spec(**fields: object) -> SweepSpec:
    return SweepSpec.model_validate({"base": {"dataset": "digits", "epochs": 2}, **fields})


def test_grid_takes_every_combination_in_order() -> None:
    grid = spec(parameters={"learning_rate": [0.1, 0.01], "batch_size": [16, 32, 64]})
    assert expand(grid) == [
        {"learning_rate": 0.1, "batch_size": 16},
        {"learning_rate": 0.1, "batch_size": 32},
        {"learning_rate": 0.1, "batch_size": 64},
        {"learning_rate": 0.01, "batch_size": 16},
        {"learning_rate": 0.01, "batch_size": 32},
        {"learning_rate": 0.01, "batch_size": 64},
    ]


def test_a_grid_larger_than_the_budget_is_refused() -> None:
    with pytest.raises(InvalidInput, match="6 combinations, more than the budget of 4") as info:
        expand(spec(parameters={"learning_rate": [1, 2], "seed": [1, 2, 3]}, budget=4))
    assert info.value.field == "budget"


def test_a_grid_needs_lists() -> None:
    with pytest.raises(InvalidInput) as info:
        expand(spec(parameters={"learning_rate": {"min": 0.001, "max": 0.1}}))
    assert info.value.field == "parameters.learning_rate"


def test_random_search_is_seeded_and_stays_in_its_ranges() -> None:
    random = spec(
        method="random",
        budget=50,
        seed=7,
        parameters={
            "learning_rate": {"min": 1e-4, "max": 1e-1, "log": True},
            "batch_size": [16, 32],
            "seed": {"min": 0, "max": 9, "integer": True},
        },
    )
    first = expand(random)
    assert first == expand(random) and len(first) == 50
    assert first != expand(random.model_copy(update={"seed": 8}))
    rates = [values["learning_rate"] for values in first]
    assert all(1e-4 <= rate <= 1e-1 for rate in rates)
    # Log-uniform: about as many draws in each decade.
    decades = [math.floor(math.log10(rate)) for rate in rates]
    assert {-4, -3, -2} <= set(decades)
    assert {values["batch_size"] for values in first} == {16, 32}
    assert all(isinstance(values["seed"], int) and 0 <= values["seed"] <= 9 for values in first)


def test_random_search_defaults_to_eight_runs() -> None:
    assert len(expand(spec(method="random", parameters={"dropout": [0.1, 0.5]}))) == 8


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"dataset": ["digits"]}, "cannot be varied"),
        ({}, "at least one field"),
        ({"learning_rate": []}, "at least one value"),
        ({"learning_rate": {"min": 1, "max": 0.1}}, "min must not exceed max"),
        ({"learning_rate": {"min": 0, "max": 0.1, "log": True}}, "log range needs min > 0"),
    ],
)
def test_bad_parameters_are_refused(parameters: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(parameters=parameters)


def test_each_run_is_a_validated_run_config_named_after_its_values() -> None:
    configs, varied = run_configs(
        spec(name="lr", parameters={"learning_rate": [0.1, 0.01], "arch": ["mlp", "small_cnn"]})
    )
    assert [c.learning_rate for c in configs] == [0.1, 0.1, 0.01, 0.01]
    assert [c.arch for c in configs] == ["mlp", "small_cnn", "mlp", "small_cnn"]
    assert all(c.dataset == "digits" and c.epochs == 2 for c in configs)
    assert configs[1].name == "lr #2: learning_rate=0.1, arch=small_cnn"
    assert varied[1] == {"learning_rate": 0.1, "arch": "small_cnn"}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"parameters": {"learning_rate": [0.1, -1.0]}}, "parameters.learning_rate"),
        ({"parameters": {"arch": ["no_such_net"]}}, "parameters.arch"),
        ({"parameters": {"seed": [1]}, "base": {"epochs": 0}}, "base.epochs"),
        ({"parameters": {"seed": [1]}, "base": {"colour": "red"}}, "base.colour"),
    ],
)
def test_a_run_config_refused_names_where_the_value_came_from(fields: dict, where: str) -> None:
    with pytest.raises(InvalidInput) as info:
        run_configs(SweepSpec.model_validate(fields))
    assert info.value.field == where


def test_best_so_far_counts_whole_epochs_only() -> None:
    curve = [(0.25, 0.3), (0.5, 0.6), (1.0, 0.5), (2.0, 0.4), (3.0, float("nan")), (4.0, 0.7)]
    assert best_so_far(curve) == {1: 0.6, 2: 0.6, 3: 0.6, 4: 0.7}


RULE = EarlyStopping(rule="median", min_epochs=1, min_runs=3)


def test_the_median_rule_stops_a_run_below_the_median_of_the_others() -> None:
    curves = {
        "a": [(1.0, 0.9), (2.0, 0.95)],
        "b": [(1.0, 0.8), (2.0, 0.85)],
        "c": [(1.0, 0.7), (2.0, 0.75)],
        "slow": [(1.0, 0.5)],
        "good": [(1.0, 0.85)],
    }
    stops = median_stops(curves, running={"slow", "good"}, rule=RULE)
    # At epoch 1 the others of "slow" reached 0.9, 0.8, 0.7, 0.85: median 0.825.
    assert list(stops) == ["slow"]
    assert "0.500" in stops["slow"] and "median 0.825" in stops["slow"]


def test_the_median_rule_waits_for_enough_runs_and_epochs() -> None:
    curves = {"a": [(1.0, 0.9)], "b": [(1.0, 0.8)], "slow": [(1.0, 0.1)]}
    assert median_stops(curves, {"slow"}, RULE) == {}  # two others, three needed
    curves["c"] = [(1.0, 0.7)]
    assert list(median_stops(curves, {"slow"}, RULE)) == ["slow"]
    late = EarlyStopping(min_epochs=2, min_runs=3)
    assert median_stops(curves, {"slow"}, late) == {}
    assert median_stops(curves, {"slow"}, EarlyStopping(rule="none")) == {}
    # A run inside its first epoch has no whole epoch to judge yet.
    assert median_stops({**curves, "new": [(0.5, 0.0)]}, {"new"}, RULE) == {}
