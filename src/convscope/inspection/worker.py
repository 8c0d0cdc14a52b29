"""The inspection worker process: imports Keras once, then answers lens requests in order.

Started (with the ``spawn`` method) and fed by :class:`convscope.inspection.pool.InspectionPool`
over a pipe: it sends ``("ready", None)`` once Keras is loaded, then one
``("ok", LensReply)`` or ``("error", LensFailure)`` per request it receives.
"""

from __future__ import annotations

import logging
import os
import signal
from multiprocessing.connection import Connection

from convscope.config import Settings
from convscope.quiet import native_stderr_silenced

logger = logging.getLogger(__name__)

#: How often an idle worker checks that the process that started it is still there.
PARENT_CHECK_S = 1.0


def inspection_main(settings: Settings, connection: Connection) -> None:
    """Entry point of an inspection worker process.

    The worker exits when its pipe closes, when it receives ``None``, or when the
    process that started it is gone. Requests are lens requests, or model files to check
    (see :func:`convscope.inspection.service.answer`).

    Args:
        settings: Where the store is.
        connection: This end of the pipe to the pool.
    """
    # Ctrl-C reaches the whole process group; the server decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    with native_stderr_silenced():
        from convscope.inspection.run_models import RunModels
        from convscope.inspection.service import reply_to
        from convscope.training.jobs import open_store

    models = RunModels(open_store(settings))
    connection.send(("ready", None))
    while os.getppid() == parent:
        if not connection.poll(PARENT_CHECK_S):
            continue
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            connection.send(reply_to(models, request))
        except (BrokenPipeError, OSError):
            return
