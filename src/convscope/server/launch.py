"""Starting a convscope server in another process and waiting until it answers.

Used by ``convscope.show()`` in notebooks, by the browser tests and by the benchmarks: one
place for the free port, the command line and the health check.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import IO, Any

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that nothing listens on now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_server(
    store: str | os.PathLike[str],
    *,
    port: int,
    host: str = LOOPBACK,
    workers: int | None = None,
    extra_args: Sequence[str] = (),
    output: IO[bytes] | int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``python -m convscope.server`` for ``store`` in a new process.

    Args:
        store: The store directory.
        port: TCP port (see :func:`free_port`).
        host: Interface to bind.
        workers: Training worker processes (the server's default when None).
        extra_args: More command-line arguments.
        output: Where the server's output goes (a file, or DEVNULL).

    Returns:
        The process; it is not waited for (see :func:`wait_until_healthy`).
    """
    return subprocess.Popen(
        server_command(store, port=port, host=host, workers=workers, extra_args=extra_args),
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        env=_server_env(),
    )


def start_detached_server(
    store: str | os.PathLike[str], *, port: int, log: str | os.PathLike[str]
) -> int:
    """Start a server for ``store`` that outlives this process (a notebook kernel).

    The server runs in a session of its own, adopted by the system once its launcher
    exits, so nothing here has to wait for it.

    Args:
        store: The store directory.
        port: TCP port.
        log: File that receives the server's output (appended).

    Returns:
        The server's process id.
    """
    command = server_command(store, port=port)
    script = 'log="$1"; shift; setsid "$@" >>"$log" 2>&1 < /dev/null & echo $!'
    launcher = subprocess.run(
        ["sh", "-c", script, "sh", str(log), *command],
        capture_output=True,
        text=True,
        check=True,
        env=_server_env(),
    )
    return int(launcher.stdout.strip())


def server_command(
    store: str | os.PathLike[str],
    *,
    port: int,
    host: str = LOOPBACK,
    workers: int | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line of a server for ``store`` on ``host:port``."""
    command = [sys.executable, "-m", "convscope.server", "--host", host, "--port", str(port)]
    command += ["--store", str(store)]
    if workers is not None:
        command += ["--workers", str(workers)]
    return command + list(extra_args)


def _server_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and parse its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def wait_until_healthy(
    base_url: str,
    *,
    timeout: float,
    alive: Callable[[], bool] | None = None,
    ready: Callable[[dict[str, Any]], bool] = lambda _health: True,
) -> dict[str, Any]:
    """Poll ``/api/health`` until it answers (and ``ready`` accepts it).

    Args:
        base_url: ``http://host:port``.
        timeout: Seconds to wait at most.
        alive: Whether the server's process still runs (checked at every poll).
        ready: Whether a health document means ready (workers loaded...).

    Returns:
        The last health document.

    Raises:
        RuntimeError: The process exited, or ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise RuntimeError("the server's process exited")
        with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
            health = get_json(f"{base_url}/api/health", timeout=2)
            if ready(health):
                return health
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {base_url} did not answer within {timeout:g} s")
        time.sleep(0.2)
