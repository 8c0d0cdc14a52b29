"""Settings read from the environment, with the defaults a single user on a laptop wants."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

STORE_ENV = "CONVSCOPE_STORE"
DATABASE_ENV = "CONVSCOPE_DB"
#: The older name of ``CONVSCOPE_DB``, still read when the new one is not set.
DATABASE_URL_ENV = "CONVSCOPE_DATABASE_URL"
DATA_ENV = "CONVSCOPE_DATA"
WORKERS_ENV = "CONVSCOPE_WORKERS"
EXECUTOR_ENV = "CONVSCOPE_EXECUTOR"
RAY_ADDRESS_ENV = "CONVSCOPE_RAY_ADDRESS"
INSPECTION_WORKERS_ENV = "CONVSCOPE_INSPECTION_WORKERS"

#: Where Keras keeps the files it downloads.
KERAS_CACHE = Path("~/.keras/datasets")
#: Where Debian's dataset packages (``dataset-fashion-mnist``...) put their files.
SYSTEM_DATASETS = Path("/usr/share/datasets")


def default_store_dir() -> Path:
    """The store directory: ``$CONVSCOPE_STORE`` or ``~/.convscope``."""
    return Path(os.environ.get(STORE_ENV) or "~/.convscope").expanduser()


def default_database_url() -> str | None:
    """The database URL: ``$CONVSCOPE_DB``, else ``$CONVSCOPE_DATABASE_URL``, else None.

    None means SQLite inside the store directory; ``postgresql+psycopg://user@host/db``
    shares one database between machines.
    """
    return os.environ.get(DATABASE_ENV) or os.environ.get(DATABASE_URL_ENV) or None


def data_search_dirs(user_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories searched for dataset files, in order.

    The directory the user gives (``--data-dir``), else ``$CONVSCOPE_DATA``; then the Keras
    cache; then ``/usr/share/datasets``.
    """
    dirs: list[Path] = []
    chosen = user_dir or os.environ.get(DATA_ENV)
    if chosen:
        dirs.append(Path(chosen).expanduser())
    dirs.append(KERAS_CACHE.expanduser())
    dirs.append(SYSTEM_DATASETS)
    return dirs


@dataclass(frozen=True)
class Settings:
    """Server and worker settings, and every limit that protects them (docs/limits.md).

    A request or a file beyond a limit is refused with an error that names the limit: the
    name of its field here (HTTP 413 for the size of what was sent, 422 otherwise).

    Attributes:
        store_dir: Directory of the database and the array files.
        database_url: SQLAlchemy URL; ``None`` means SQLite inside ``store_dir``.
        workers: How many runs train at the same time (one worker process each; the CPUs
            of a local Ray instance).
        executor: Where runs train: "local" (spawned worker processes) or "ray".
        ray_address: The Ray cluster to submit to; None starts a local Ray instance.
        inspection_workers: Processes that run lenses (warm, separate from training;
            Ray actors with the Ray executor).
        lens_timeout_s: Longest a lens may run before its worker is replaced.
        inspection_start_timeout_s: Longest wait for an inspection worker to load Keras.
        max_upload_bytes: Largest accepted upload (a ``multipart/form-data`` body).
        max_image_pixels: Largest accepted decoded image, against decompression bombs.
        max_dataset_bytes: Most pixel bytes of a dataset held in memory (all images,
            training and test).
        max_image_bytes: Largest image file (in a folder, a zip or an upload).
        max_request_bytes: Largest body of any other request (JSON).
        max_archive_entries: Most entries in a zip (a dataset, a ``.keras`` file), and most
            files in a folder dataset.
        max_archive_bytes: Largest total uncompressed size of a zip's entries.
        max_archive_member_bytes: Largest uncompressed size of one zip entry.
        max_compression_ratio: Largest uncompressed/compressed ratio of a zip entry (zip
            bombs); entries under ``compression_ratio_floor_bytes`` are exempt, since a
            small file of one colour compresses well.
        compression_ratio_floor_bytes: Size below which an entry's ratio is not checked.
        max_model_bytes: Largest ``.keras`` file accepted.
        max_model_params: Most parameters of a network, counted before it is built.
        max_activation_bytes: Most memory for the activations of one training batch
            (float32 outputs of every layer, times the batch size), counted before building.
        sse_max_connections: Most open event streams in all.
        sse_max_per_run: Most open event streams of one run.
        sse_send_timeout_s: An event stream whose client has not taken the bytes sent to
            it within this many seconds is closed (the client reconnects when it can).
        auth_token: When set, every request must carry this token (header, cookie, or
            once as ``?token=``); ``convscope serve`` sets one for a non-loopback ``--host``.
        allowed_hosts: Host names the server answers to (DNS rebinding protection);
            empty: the loopback names. ``"*"`` accepts any (only with a token).
    """

    store_dir: Path = field(default_factory=default_store_dir)
    database_url: str | None = field(default_factory=default_database_url)
    workers: int = field(default_factory=lambda: int(os.environ.get(WORKERS_ENV, "1")))
    executor: str = field(default_factory=lambda: os.environ.get(EXECUTOR_ENV) or "local")
    ray_address: str | None = field(default_factory=lambda: os.environ.get(RAY_ADDRESS_ENV))
    inspection_workers: int = field(
        default_factory=lambda: int(os.environ.get(INSPECTION_WORKERS_ENV, "1"))
    )
    lens_timeout_s: float = 60.0
    inspection_start_timeout_s: float = 120.0
    max_upload_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    max_dataset_bytes: int = 2 << 30
    max_image_bytes: int = 64 << 20
    max_request_bytes: int = 1024 * 1024
    max_archive_entries: int = 100_000
    max_archive_bytes: int = 1 << 30
    max_archive_member_bytes: int = 64 << 20
    max_compression_ratio: int = 100
    compression_ratio_floor_bytes: int = 1 << 20
    max_model_bytes: int = 512 * 1024 * 1024
    max_model_params: int = 20_000_000
    max_activation_bytes: int = 2 << 30
    sse_max_connections: int = 2_000
    sse_max_per_run: int = 1_100
    sse_send_timeout_s: float = 30.0
    auth_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()


#: Host names of this machine's loopback interface: always allowed.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address to bind) only reaches this machine."""
    import ipaddress

    name = host.strip("[]").lower()
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
