"""Sweeps: many runs of one RunConfig that vary a few fields, and the rule that stops the
hopeless ones early.

A :class:`SweepSpec` names a base config, the fields to vary and their values, a search
method and a budget. ``grid`` takes every combination of the listed values (in the order
given); ``random`` draws ``budget`` configurations with a seeded generator: a value from a
list, or a number from a range (uniform, or log-uniform for rates). Each configuration is
validated as a :class:`RunConfig`, so a bad value is refused before anything is queued.

The median stopping rule (Golovin et al., "Google Vizier: A Service for Black-Box
Optimization", KDD 2017) stops a run after an epoch if its best validation accuracy so far
is below the median of what the other runs of the sweep had reached at that same epoch.
It needs a few other runs to compare with, and it never stops a run in its first epochs
(learning starts slowly, and the rule would only measure the start). It saves time on bad
settings; it can also stop a late bloomer, which is why a sweep can turn it off.

This module imports neither Keras nor Ray: the server uses it.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from convscope.errors import ConvscopeError, InvalidInput
from convscope.store import RunRecord, Store
from convscope.training.config import RunConfig

#: The RunConfig fields a sweep may vary.
SWEEPABLE: tuple[str, ...] = (
    "learning_rate",
    "batch_size",
    "arch",
    "dropout",
    "augment_shift",
    "augment_flip",
    "seed",
    "optimizer",
    "weight_init",
    "epochs",
)
logger = logging.getLogger(__name__)

#: The metric that sweeps compare runs by.
OBJECTIVE = "val_accuracy"
DEFAULT_RANDOM_BUDGET = 8


class Range(BaseModel):
    """A numeric interval that random search draws from."""

    model_config = ConfigDict(extra="forbid")

    min: float
    max: float
    log: bool = Field(default=False, description="Draw uniformly in log space (rates).")
    integer: bool = Field(default=False, description="Round each draw to an integer.")


class EarlyStopping(BaseModel):
    """When to stop a run of the sweep before its last epoch."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["median", "none"] = "median"
    min_epochs: int = Field(
        default=1, ge=1, le=100, description="Epochs every run completes before it can be stopped."
    )
    min_runs: int = Field(
        default=3, ge=1, le=100, description="Other runs that must have reached an epoch first."
    )


class SweepSpec(BaseModel):
    """A sweep: a base RunConfig, the fields to vary, how to search, and how many runs."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=120)
    method: Literal["grid", "random"] = "grid"
    base: dict[str, Any] = Field(
        default_factory=dict, description="RunConfig fields shared by every run."
    )
    parameters: dict[str, list[Any] | Range] = Field(
        description="Field -> list of values (grid or random), or a range (random only)."
    )
    budget: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description="Most runs; a grid defaults to its size, random search to 8.",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seed of the random search.")
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)

    @field_validator("parameters")
    @classmethod
    def _sweepable(cls, value: dict[str, list[Any] | Range]) -> dict[str, list[Any] | Range]:
        if not value:
            raise ValueError("name at least one field to vary")
        for field, values in value.items():
            if field not in SWEEPABLE:
                raise ValueError(
                    f"{field!r} cannot be varied; valid choices: {', '.join(SWEEPABLE)}"
                )
            if isinstance(values, list) and not values:
                raise ValueError(f"{field}: give at least one value")
            if isinstance(values, Range) and values.min > values.max:
                raise ValueError(f"{field}: min must not exceed max")
            if isinstance(values, Range) and values.log and values.min <= 0:
                raise ValueError(f"{field}: a log range needs min > 0")
        return value


def _draw(values: list[Any] | Range, rng: np.random.Generator) -> Any:
    if isinstance(values, list):
        return values[int(rng.integers(len(values)))]
    if values.log:
        number = math.exp(rng.uniform(math.log(values.min), math.log(values.max)))
    else:
        number = float(rng.uniform(values.min, values.max))
    if values.integer:
        return round(number)
    # Four significant digits: a learner reads 0.003162, not 0.0031622776601683794.
    return float(f"{number:.4g}")


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """The varied values of each run of a sweep, in order.

    Args:
        spec: The sweep.

    Returns:
        One ``{field: value}`` per run.

    Raises:
        InvalidInput: A grid with a range, or with more combinations than the budget.
    """
    fields = list(spec.parameters)
    if spec.method == "grid":
        lists = []
        for field in fields:
            values = spec.parameters[field]
            if isinstance(values, Range):
                raise InvalidInput(
                    f"parameters.{field}", "a grid needs a list of values, not a range"
                )
            lists.append(values)
        combinations = [
            dict(zip(fields, combo, strict=True)) for combo in itertools.product(*lists)
        ]
        if spec.budget is not None and len(combinations) > spec.budget:
            raise InvalidInput(
                "budget",
                f"the grid has {len(combinations)} combinations, more than the budget of "
                f"{spec.budget}; raise the budget or remove values",
            )
        return combinations
    rng = np.random.default_rng(spec.seed)
    budget = spec.budget or DEFAULT_RANDOM_BUDGET
    return [{field: _draw(spec.parameters[field], rng) for field in fields} for _ in range(budget)]


def _describe(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "custom"
    return str(value)


def run_configs(spec: SweepSpec) -> tuple[list[RunConfig], list[dict[str, Any]]]:
    """Every run of a sweep as a validated RunConfig, with its varied values.

    Raises:
        InvalidInput: A base field or a varied value that RunConfig refuses, named
            ``base.<field>`` or ``parameters.<field>``.
    """
    varied = expand(spec)
    configs = []
    for number, values in enumerate(varied, start=1):
        label = ", ".join(f"{field}={_describe(value)}" for field, value in values.items())
        prefix = f"{spec.name} " if spec.name else "sweep "
        fields = {**spec.base, **values, "name": f"{prefix}#{number}: {label}"[:120]}
        try:
            configs.append(RunConfig.model_validate(fields))
        except ValidationError as error:
            problem = error.errors()[0]
            field = str(problem["loc"][0]) if problem["loc"] else "base"
            where = f"parameters.{field}" if field in values else f"base.{field}"
            reason = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "extra_forbidden":
                reason = "unknown field"
            raise InvalidInput(where, reason) from error
    return configs, varied


def best_so_far(curve: Sequence[tuple[float, float]]) -> dict[int, float]:
    """For each whole epoch of a run's curve, the best objective reached up to it.

    Args:
        curve: ``(epoch, objective)`` pairs of its snapshots, in order; snapshots inside an
            epoch count towards the best but do not make an epoch of their own.

    Returns:
        ``{epoch: best objective up to that epoch}`` for every whole epoch reached.
    """
    best = -math.inf
    out: dict[int, float] = {}
    for epoch, value in curve:
        if value is not None and math.isfinite(value):
            best = max(best, value)
        if float(epoch).is_integer() and best > -math.inf:
            out[int(epoch)] = best
    return out


def median_stops(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    running: set[str],
    rule: EarlyStopping,
) -> dict[str, str]:
    """Which running runs the median rule stops now, and why.

    Args:
        curves: Every run of the sweep: ``(epoch, objective)`` of its snapshots.
        running: The runs still training (only they can be stopped).
        rule: The sweep's early-stopping settings.

    Returns:
        ``{run id: reason}`` of the runs to stop.
    """
    if rule.rule == "none":
        return {}
    bests = {run_id: best_so_far(curve) for run_id, curve in curves.items()}
    stops: dict[str, str] = {}
    for run_id in sorted(running):
        mine = bests.get(run_id, {})
        if not mine:
            continue
        epoch = max(mine)
        if epoch < rule.min_epochs:
            continue
        others = [best[epoch] for other, best in bests.items() if other != run_id and epoch in best]
        if len(others) < rule.min_runs:
            continue
        median = statistics.median(others)
        if mine[epoch] < median:
            stops[run_id] = (
                f"stopped after epoch {epoch}: best validation accuracy {mine[epoch]:.3f}, "
                f"below the median {median:.3f} of {len(others)} other runs at that epoch"
            )
    return stops


def sweep_curves(store: Store, sweep_id: str) -> dict[str, list[tuple[float, float]]]:
    """``(epoch, validation accuracy)`` of every snapshot of each run of a sweep."""
    return {
        run_id: [(epoch, _number(metrics.get(OBJECTIVE))) for epoch, metrics in snapshots]
        for run_id, snapshots in store.sweep_snapshot_metrics(sweep_id).items()
    }


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def apply_early_stopping(
    store: Store, sweep_id: str, cancel: Callable[[RunRecord], None] | None = None
) -> list[str]:
    """Stop the runs of a sweep that its rule finds hopeless now.

    Each stopped run gets the store's cancel request (its worker stops it after the
    current batch, keeping its snapshots) and its reason recorded in the sweep.

    Args:
        store: The store.
        sweep_id: The sweep.
        cancel: Called with each stopped run, so that the executor reaches it at once.

    Returns:
        The ids of the runs stopped now.
    """
    sweep = store.get_sweep(sweep_id)
    spec = SweepSpec.model_validate(sweep.spec)
    if spec.early_stopping.rule == "none":
        return []
    runs = store.sweep_runs(sweep_id)
    running = {run.id for run in runs if run.status == "running" and run.id not in sweep.stopped}
    if not running:
        return []
    stops = median_stops(sweep_curves(store, sweep_id), running, spec.early_stopping)
    for run_id, reason in stops.items():
        try:
            run = store.request_cancel(run_id)
        except ConvscopeError:
            continue  # deleted meanwhile
        store.mark_stopped_early(sweep_id, run_id, reason)
        if cancel is not None:
            cancel(run)
    return list(stops)


class EarlyStopper:
    """A thread that applies every active sweep's stopping rule at a fixed interval.

    Args:
        store: The store.
        cancel: Called with each stopped run (the executor's ``cancel``), or None.
        interval: Seconds between two checks.
    """

    def __init__(
        self,
        store: Store,
        cancel: Callable[[RunRecord], None] | None = None,
        *,
        interval: float = 1.0,
    ) -> None:
        self.store = store
        self.cancel = cancel
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> list[str]:
        """Apply the rule of every sweep that has unfinished runs; returns the stopped runs."""
        stopped: list[str] = []
        for sweep_id in self.store.active_sweep_ids():
            stopped += apply_early_stopping(self.store, sweep_id, self.cancel)
        return stopped

    def start(self) -> None:
        """Start checking in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="convscope-early-stop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.check_once()
            except Exception:
                logger.exception("applying the sweeps' stopping rules failed; retrying")
