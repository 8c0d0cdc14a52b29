"""Reading an uploaded file: its bytes up to a limit, and a name fit for messages only.

The name a client gives its file is never used as a path: files are kept under ids and
checked names chosen by the store.
"""

from __future__ import annotations

from pathlib import PurePath

from fastapi import UploadFile

from convscope.errors import PayloadTooLarge

#: Longest file name echoed back in messages.
MAX_SHOWN_NAME = 100
#: First bytes of a zip archive (a file, or an empty archive).
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")


def read_upload(file: UploadFile, limit: int, limit_name: str, field: str = "file") -> bytes:
    """The bytes of an uploaded file.

    Args:
        file: The multipart file.
        limit: Most bytes accepted.
        limit_name: The ``Settings`` field the limit comes from, named in the error.
        field: The form field, for the error.

    Raises:
        PayloadTooLarge: The file is larger than ``limit`` (HTTP 413).
    """
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            field, f"the file has more than {limit:,} bytes", limit=limit_name, maximum=limit
        )
    return data


def shown_name(file: UploadFile, default: str) -> str:
    """The file's own name without folders, shortened: for messages, never for paths."""
    name = PurePath((file.filename or "").replace("\\", "/")).name
    printable = "".join(ch for ch in name if ch.isprintable())
    return printable[:MAX_SHOWN_NAME] or default
