"""Which process trains a run, and whether it is still alive: the liveness rule in one place.

A run records the process id and the host name of the process that trains it. A process id
means something only on its own machine, so a run is judged dead only when its host is this
machine and no process with its id exists; runs trained on other machines (sharing a
PostgreSQL store) are never judged from here.
"""

from __future__ import annotations

import functools
import os
import socket


@functools.cache
def this_host() -> str:
    """The name of this machine, as recorded beside a training process id."""
    return socket.gethostname()


def process_exists(pid: int | None) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    except OverflowError:  # not a process id this system can have
        return False
    return True


def process_is_gone(pid: int | None, host: str | None) -> bool:
    """Whether the training process ``pid`` on ``host`` is known to have ended.

    Only a process of this machine can be checked: for another host, or an unknown pid,
    the answer is False (not known to be gone).
    """
    return pid is not None and host == this_host() and not process_exists(pid)
