"""What the ``convscope`` command prints for people: tables, progress bars, summaries."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from convscope.datasets import DatasetInfo
from convscope.store import RunRecord, SnapshotRecord

_out = Console()
_err = Console(stderr=True)


def _metric(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def datasets_table(infos: list[DatasetInfo]) -> None:
    """Each dataset, whether it is available here, and from where (or why not)."""
    table = Table(title="Datasets")
    for column in ("name", "available", "images", "classes", "from / how to get it"):
        table.add_column(column)
    for info in infos:
        shape = "x".join(str(n) for n in info.image_shape) if info.image_shape else "-"
        table.add_row(
            info.name,
            "[green]yes[/]" if info.available else "[red]no[/]",
            shape,
            str(info.num_classes or "-"),
            (info.location if info.available else info.reason) or "",
        )
    _out.print(table)


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as a JSON-serialisable dict."""
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "source": run.source,
        "config": run.config,
        "class_names": run.class_names,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "num_snapshots": run.num_snapshots,
        "final_metrics": run.final_metrics,
        "error": run.error,
    }


def runs_table(runs: list[RunRecord]) -> None:
    """All runs of a store, newest first."""
    if not runs:
        _out.print("No runs yet. Train one with: convscope train --dataset digits")
        return
    table = Table(title="Runs")
    for column in ("id", "status", "dataset", "arch", "snapshots", "val acc", "created"):
        table.add_column(column)
    for run in runs:
        metrics = run.final_metrics or {}
        arch = run.config.get("arch", run.config.get("model", "-"))
        table.add_row(
            run.id,
            run.status,
            str(run.config.get("dataset", "-")),
            arch if isinstance(arch, str) else "custom",
            str(run.num_snapshots),
            _metric(metrics.get("val_accuracy")),
            run.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    _out.print(table)


def show_run(run: RunRecord, snapshots: list[SnapshotRecord]) -> None:
    """One run: its config, status and a table of its snapshots."""
    _out.print(f"[bold]Run {run.id}[/] {run.name or ''}  status: {run.status}  ({run.source})")
    if run.error:
        _out.print(f"[red]error:[/] {run.error}")
    for key, value in run.config.items():
        _out.print(f"  {key}: {value}")
    table = Table(title="Snapshots")
    for column in ("index", "epoch", "step", "train loss", "train acc", "val loss", "val acc"):
        table.add_column(column, justify="right")
    for snapshot in snapshots:
        m = snapshot.metrics
        table.add_row(
            str(snapshot.index),
            f"{snapshot.epoch:g}",
            str(snapshot.step),
            _metric(m.get("train_loss")),
            _metric(m.get("train_accuracy")),
            _metric(m.get("val_loss")),
            _metric(m.get("val_accuracy")),
        )
    _out.print(table)


def run_summary(run: RunRecord, store_root: Path) -> None:
    """The closing lines of ``convscope train``."""
    metrics = run.final_metrics or {}
    _err.print(
        f"Run {run.id}: {run.status}, {run.num_snapshots} snapshots, "
        f"val accuracy {_metric(metrics.get('val_accuracy'))}, "
        f"val loss {_metric(metrics.get('val_loss'))}"
    )
    _err.print(f"Stored in {store_root}. See it with: convscope show {run.id}")


class TrainingProgress:
    """A progress bar per epoch, fed by the Recorder's events, on standard error."""

    def __init__(self, epochs: int, *, quiet: bool = False) -> None:
        self.epochs = epochs
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=_err,
            disable=quiet,
        )
        self.tasks: dict[int, Any] = {}

    def __enter__(self) -> TrainingProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def update(self, kind: str, payload: dict[str, Any]) -> None:
        """Advance the bar of the current epoch, or print a snapshot's metrics."""
        if kind == "progress":
            epoch = int(payload["epoch"])
            if epoch not in self.tasks:
                self.tasks[epoch] = self.progress.add_task(
                    "",
                    total=payload["steps_per_epoch"],
                    epoch=epoch + 1,
                    epochs=self.epochs,
                    status="",
                )
            batches = payload["batches"]
            status = f"loss {batches[-1][2]:.3f}" if batches else ""
            self.progress.update(self.tasks[epoch], completed=payload["step"], status=status)
        elif kind == "snapshot":
            m = payload["metrics"]
            self.progress.console.print(
                f"snapshot {payload['index']} at epoch {payload['epoch']:.3g}: "
                f"val accuracy {_metric(m['val_accuracy'])}, val loss {_metric(m['val_loss'])}"
            )
        elif kind == "warning":
            self.progress.console.print(f"[yellow]warning:[/] {payload['message']}")


def sweep_table(
    sweep_id: str, varied: list[str], rows: list[dict[str, Any]], *, queued_only: bool = False
) -> None:
    """The runs of a sweep, best final validation accuracy first."""
    title = f"Sweep {sweep_id}" + (
        " (queued: a server on this store trains it)" if queued_only else ""
    )
    table = Table(title=title)
    for column in ("run", *varied, "status", "val accuracy", "note"):
        table.add_column(column)
    for row in rows:
        values = [str(row["values"].get(field)) for field in varied]
        note = "stopped early" if row["stopped_early"] else ""
        table.add_row(row["run_id"], *values, row["status"], _metric(row["final_accuracy"]), note)
    _out.print(table)
