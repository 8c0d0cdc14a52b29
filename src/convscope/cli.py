"""The ``convscope`` command: train, list and inspect runs, list datasets, serve the web app."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from convscope.config_file import read_fields
from convscope.errors import ConvscopeError, InvalidInput

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: CLI flag -> RunConfig field, for the flags that override a config file.
_TRAIN_FLAGS = {
    "name": "name",
    "dataset": "dataset",
    "train_size": "train_size",
    "test_size": "test_size",
    "arch": "arch",
    "optimizer": "optimizer",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "weight_init": "weight_init",
    "dropout": "dropout",
    "augment_shift": "augment_shift",
    "augment_flip": "augment_flip",
    "seed": "seed",
    "probe_size": "probe_size",
    "eval_size": "eval_size",
    "snapshots_per_epoch": "snapshots_per_epoch",
    "record_depth": "record_depth",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convscope", description="Train image classifiers and watch them from the inside."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_store(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--store",
            help="directory of the array files, and of the SQLite database by default "
            "(default $CONVSCOPE_STORE or ~/.convscope)",
        )
        p.add_argument(
            "--db",
            metavar="URL",
            help="database URL, e.g. postgresql+psycopg://user@host/convscope "
            "(default $CONVSCOPE_DB, else SQLite in the store directory)",
        )

    datasets = sub.add_parser("datasets", help="list the datasets and whether they are here")
    datasets.add_argument("--data-dir", help="extra directory searched first for dataset files")
    datasets.add_argument("--json", action="store_true", help="print JSON")

    train = sub.add_parser("train", help="train one run and record its snapshots")
    train.add_argument("--config", help="a TOML or JSON file with RunConfig fields")
    train.add_argument("--name")
    train.add_argument("--dataset")
    train.add_argument(
        "--dataset-path",
        help="the folder dataset's directory (one sub-folder of images per class) or zip",
    )
    train.add_argument("--train-size", type=int)
    train.add_argument("--test-size", type=int)
    train.add_argument("--arch", help="a preset name, or a JSON architecture spec")
    train.add_argument("--optimizer")
    train.add_argument("--learning-rate", "--lr", type=float)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--epochs", type=int)
    train.add_argument("--weight-init")
    train.add_argument("--dropout", type=float)
    train.add_argument("--augment-shift", type=float)
    train.add_argument("--augment-flip", action="store_true", default=None)
    train.add_argument("--seed", type=int)
    train.add_argument("--probe-size", type=int)
    train.add_argument("--eval-size", type=int, help="validation images measured at every snapshot")
    train.add_argument("--snapshots-per-epoch", type=int, help="snapshots in every epoch")
    train.add_argument(
        "--record-depth",
        action="store_true",
        default=None,
        help="measure every layer's probe and k-NN accuracy after each snapshot",
    )
    train.add_argument("--data-dir", help="extra directory searched first for dataset files")
    train.add_argument("--json", action="store_true", help="print one JSON object at the end")
    with_store(train)

    runs = sub.add_parser("runs", help="list the runs in a store")
    runs.add_argument("--json", action="store_true")
    with_store(runs)

    show = sub.add_parser("show", help="show one run and its snapshots")
    show.add_argument("run_id", help="a run id, or its first characters")
    show.add_argument("--json", action="store_true")
    with_store(show)

    sweep = sub.add_parser(
        "sweep", help="train many runs that vary some fields of one config, and compare them"
    )
    sweep.add_argument("file", help="a TOML or JSON sweep file (see docs/sweeps.md)")
    sweep.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where the runs train: local worker processes (default) or a Ray cluster",
    )
    sweep.add_argument("--workers", type=int, default=1, help="runs trained at the same time")
    sweep.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster (default: local)")
    sweep.add_argument(
        "--no-wait",
        action="store_true",
        help="only queue the runs; a server on the same store trains them",
    )
    sweep.add_argument("--data-dir", help="extra directory searched first for dataset files")
    sweep.add_argument("--json", action="store_true", help="print one JSON object at the end")
    with_store(sweep)

    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, help="runs trained at the same time (default 1)")
    serve.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="where runs train and lenses run: local worker processes (default) or a Ray cluster",
    )
    serve.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster to submit runs to (default: start a local Ray instance)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="serve a non-loopback --host without an access token (anyone can use it)",
    )
    with_store(serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``convscope`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "datasets":
            return _datasets(args)
        if args.command == "train":
            return _train(args)
        if args.command == "runs":
            return _runs(args)
        if args.command == "show":
            return _show(args)
        if args.command == "sweep":
            from convscope.cli_sweep import run_sweep

            with _open_store(args) as store:
                return run_sweep(args, store)
        return _serve(args)
    except ValidationError as error:
        for line in validation_messages(error):
            print(f"convscope: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except ConvscopeError as error:
        print(f"convscope: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def validation_messages(error: ValidationError) -> list[str]:
    """One ``field: reason`` line per problem in a pydantic validation error."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "config"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        lines.append(f"{field}: {message}")
    return lines


def _open_store(args: argparse.Namespace) -> Any:
    from convscope.config import default_database_url
    from convscope.store import Store

    return Store(args.store, url=args.db or default_database_url())


def _datasets(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from convscope.datasets import list_datasets

    infos = list_datasets(args.data_dir)
    if args.json:
        print(json.dumps([asdict(info) for info in infos], indent=2))
        return 0
    from convscope.cli_format import datasets_table

    datasets_table(infos)
    return 0


def build_config(args: argparse.Namespace) -> Any:
    """The RunConfig of ``convscope train``: a config file, overridden by flags."""
    from convscope.training.config import RunConfig

    fields = read_fields(args.config) if args.config else {}
    for flag, field in _TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            fields[field] = value
    if args.dataset_path is not None:
        options = fields.get("dataset_options") or {}
        if not isinstance(options, dict):
            raise InvalidInput("dataset_options", "must be a table of option values")
        options = dict(options)
        # Absolute: the run may be trained by a process started elsewhere.
        options["path"] = str(Path(args.dataset_path).expanduser().resolve())
        fields["dataset_options"] = options
    arch = fields.get("arch")
    if isinstance(arch, str) and arch.lstrip().startswith("{"):
        try:
            fields["arch"] = json.loads(arch)
        except ValueError as error:
            raise InvalidInput("arch", f"not valid JSON: {error}") from error
    return RunConfig.model_validate(fields)


def _train(args: argparse.Namespace) -> int:
    from convscope.datasets.uploaded import use_directory
    from convscope.training.config import check_against_data

    with _open_store(args) as store:
        use_directory(store.datasets_dir)  # datasets uploaded to this store train too
        config = build_config(args)
        check_against_data(config, args.data_dir)
        return _train_in(args, config, store)


def _train_in(args: argparse.Namespace, config: Any, store: Any) -> int:
    from convscope.cli_format import TrainingProgress
    from convscope.quiet import native_stderr_silenced

    with native_stderr_silenced():
        from convscope.training.runner import create_run, train_run

    run = create_run(store, config, source="cli")
    with TrainingProgress(config.epochs, quiet=args.json) as progress:
        record = train_run(store, run.id, data_dir=args.data_dir, on_event=progress.update)
    summary = {
        "run_id": record.id,
        "status": record.status,
        "snapshots": record.num_snapshots,
        "final_metrics": record.final_metrics,
        "error": record.error,
        "store": str(store.root),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        from convscope.cli_format import run_summary

        run_summary(record, store.root)
    if record.status == "interrupted":
        return EXIT_INTERRUPTED
    if record.status == "failed":
        if not args.json:
            print(f"convscope: error: {record.error}", file=sys.stderr)
        return 1
    return 0


def _runs(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        runs = store.list_runs()
    if args.json:
        from convscope.cli_format import run_json

        print(json.dumps([run_json(run) for run in runs], indent=2))
        return 0
    from convscope.cli_format import runs_table

    runs_table(runs)
    return 0


def _show(args: argparse.Namespace) -> int:
    from convscope.cli_format import run_json, show_run

    with _open_store(args) as store:
        run = store.find_run(args.run_id)
        snapshots = store.list_snapshots(run.id)
    if args.json:
        data = run_json(run)
        data["snapshots"] = [
            {"index": s.index, "epoch": s.epoch, "step": s.step, "metrics": s.metrics}
            for s in snapshots
        ]
        print(json.dumps(data, indent=2))
        return 0
    show_run(run, snapshots)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from convscope.server.app import serve

    if args.workers is not None and args.workers < 0:
        raise InvalidInput("workers", "must be 0 or more")

    serve(
        host=args.host,
        port=args.port,
        store_dir=args.store,
        workers=args.workers,
        database_url=args.db,
        executor=args.executor,
        ray_address=args.ray_address,
        no_auth=args.no_auth,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
