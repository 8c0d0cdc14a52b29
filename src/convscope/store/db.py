"""``Store``: the one entry point to the database and the array files of convscope."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from convscope.config import default_store_dir
from convscope.errors import StoreError

from .base import make_engine, sqlite_url
from .events import EventsMixin
from .queue import QueueMixin
from .results import ResultsMixin
from .schema import ensure_schema
from .snapshots import SnapshotsMixin
from .sweeps import SweepsMixin
from .uploads import UploadsMixin

#: File name of the SQLite database inside the store directory.
DATABASE_FILE = "convscope.db"


class Store(SweepsMixin, QueueMixin, SnapshotsMixin, EventsMixin, ResultsMixin, UploadsMixin):
    """Runs, sweeps, snapshots, training curves and events, in SQL; arrays in files beside it.

    Safe to share between threads, and to open at the same time from several processes
    (the web server and training workers): every operation is one short transaction on a
    pooled connection. A forked child process may keep using the store it inherited.

    Attributes:
        root: Directory of the array files (and of the SQLite database by default).
        url: SQLAlchemy URL of the database.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, url: str | None = None):
        """Open a store, creating its directories and tables if needed.

        Args:
            root: Store directory; None means ``config.default_store_dir()``.
            url: SQLAlchemy URL of the database; None means SQLite at
                ``<root>/convscope.db``.

        Raises:
            StoreError: The directory cannot be created, the database cannot be opened,
                or it was written by a newer convscope.
        """
        self.root = Path(root).expanduser().absolute() if root is not None else default_store_dir()
        for directory in (self.root, self.root / "runs"):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the store directory {directory}: {error.strerror or error}"
                ) from error
        if not os.access(self.root, os.W_OK):
            raise StoreError(f"the store directory {self.root} is not writable")
        self.url = url if url is not None else sqlite_url(self.root / DATABASE_FILE)
        self._engine = make_engine(self.url)
        self._pid = os.getpid()
        self._where = make_url(self.url).render_as_string(hide_password=True)
        try:
            with self._write() as conn:
                ensure_schema(conn, where=self._where)
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Release the database connections. The store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store(root={str(self.root)!r}, url={self._where!r})"
