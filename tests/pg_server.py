"""A throwaway PostgreSQL server for tests and benchmarks: its own data directory in a
temporary folder, a free port on 127.0.0.1, stopped (and its files removed) at the end.

The binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/<v>/bin``).
PostgreSQL refuses to run as root: when the tests run as root (as CI does), the server runs
as the ``postgres`` user that the package creates (or ``nobody``), in a folder it owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The database backends that the store tests run on.
BACKENDS = ("sqlite", "postgresql")
#: The role the tests connect as (a superuser, password-less on 127.0.0.1 only).
ROLE = "convscope"
START_TIMEOUT_S = 60.0


def postgres_bindir() -> Path:
    """The directory of ``initdb`` and ``postgres``, newest version first.

    Raises:
        RuntimeError: PostgreSQL is not installed.
    """
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL is not installed: the store tests need its server binaries "
        "(Debian: apt-get install postgresql, as .ci/run does)"
    )


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class PostgresServer:
    """A running throwaway server.

    Attributes:
        port: Its TCP port on 127.0.0.1.
        process: The postmaster.
        data_dir: Its data directory (removed on stop).
    """

    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one of its databases, through psycopg 3."""
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a fresh, empty database and return its URL."""
        name = f"t_{secrets.token_hex(6)}"
        self._admin(f'CREATE DATABASE "{name}" STRATEGY = FILE_COPY')
        return self.url(name)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _ready(port: int) -> bool:
    import psycopg

    try:
        psycopg.connect(
            host="127.0.0.1", port=port, user=ROLE, dbname="postgres", connect_timeout=2
        ).close()
    except psycopg.OperationalError:
        return False
    return True


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL server; stop it and remove its files afterwards."""
    bindir = postgres_bindir()
    user = _server_user()
    # Not pytest's tmp_path: the server's user must be able to reach its folder.
    data_dir = Path(tempfile.mkdtemp(prefix="convscope-pg-"))
    kwargs: dict = {}
    if user is not None:
        os.chown(data_dir, user.pw_uid, user.pw_gid)
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {**os.environ, "LC_ALL": "C"}
    pgdata = data_dir / "data"
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                ROLE,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=data_dir,
            env=env,
            **kwargs,
        )
        port = free_port()
        log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(pgdata),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                # A throwaway server: durability buys nothing, and costs seconds.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
            env=env,
            **kwargs,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the test PostgreSQL server did not start:\n"
                    + (data_dir / "server.log").read_text(errors="replace")
                )
            time.sleep(0.1)
        yield PostgresServer(port, process, pgdata)
    finally:
        if process is not None and process.poll() is None:
            # SIGQUIT: immediate shutdown; nothing of a throwaway server needs to be kept.
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
