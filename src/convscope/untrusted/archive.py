"""Zip archives from users, read in memory and never extracted.

:func:`open_zip` checks the whole central directory before any entry is read: entry
count, names (absolute paths, ``..``, drive letters, duplicates), links,
encryption, compression methods (stored and deflate only: Python decompresses bzip2 and
LZMA without an output bound), declared sizes, compression ratios, and entries that
overlap (the "better zip bomb", Fifield 2019). :meth:`SafeZip.read` then decompresses one
entry at most to its declared size and checks that it really has that size and its CRC.
A directory that lies about sizes therefore costs no more memory than it declares, and
what it declares is bounded by the limits.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from convscope.config import Settings
from convscope.errors import InvalidInput, PayloadTooLarge

#: Compression methods read: Python bounds the output of these two only.
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_LOCAL_HEADER_BYTES = 30
_END_RECORD_BYTES = 22
_MAX_COMMENT_BYTES = 65535
_ZIP64_LOCATOR_BYTES = 20
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """The limits an archive is checked against (see :class:`~convscope.config.Settings`)."""

    max_entries: int
    max_total_bytes: int
    max_member_bytes: int
    max_ratio: float
    ratio_floor_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: int) -> ArchiveLimits:
        """The limits of ``settings`` (the defaults when None), some replaced by ``overrides``."""
        source: Any = settings if settings is not None else Settings
        values = {
            "max_entries": source.max_archive_entries,
            "max_total_bytes": source.max_archive_bytes,
            "max_member_bytes": source.max_archive_member_bytes,
            "max_ratio": source.max_compression_ratio,
            "ratio_floor_bytes": source.compression_ratio_floor_bytes,
        }
        values.update(overrides)
        return cls(**values)


def _name_problem(name: str) -> str | None:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or _DRIVE.match(normal):
        return "has an absolute path (it points outside the zip)"
    if ".." in normal.split("/"):
        return "climbs out with '..' (it points outside the zip)"
    return None


class SafeZip:
    """A zip archive whose directory has passed every check; read entries with :meth:`read`.

    Use :func:`open_zip` to make one. Close it (or use it in a ``with`` block) when done.

    Attributes:
        field: The name used in error messages (``"file"``, ``"path"``).
        entries: The file entries (folders left out), in directory order.
    """

    def __init__(
        self,
        archive: zipfile.ZipFile,
        limits: ArchiveLimits,
        field: str,
        owned: IO[bytes] | None = None,
    ) -> None:
        self._archive = archive
        self._owned = owned
        self.limits = limits
        self.field = field
        self.entries = [info for info in archive.infolist() if not info.is_dir()]
        self._by_name = {info.filename: info for info in self.entries}

    def names(self) -> list[str]:
        """The names of the file entries, in directory order."""
        return [info.filename for info in self.entries]

    def size(self, name: str) -> int:
        """The uncompressed size an entry declares (checked against the limits)."""
        return self._info(name).file_size

    def read(self, name: str) -> bytes:
        """The bytes of one entry, after checking their size and CRC.

        Raises:
            InvalidInput: The entry is damaged: its data does not decompress, is shorter
                or longer than declared, or fails its CRC check.
        """
        info = self._info(name)
        chunks: list[bytes] = []
        received = 0
        try:
            with self._archive.open(info) as stream:
                # At most the declared size + 1 byte: one byte more proves a lie.
                while received <= info.file_size:
                    chunk = stream.read(min(_CHUNK, info.file_size + 1 - received))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    received += len(chunk)
        except zipfile.BadZipFile as error:
            if "CRC" in str(error):
                raise self._damaged(info, "its data fails the CRC check") from None
            raise self._damaged(info, str(error)) from None
        except (zlib.error, EOFError, OSError, ValueError) as error:
            raise self._damaged(info, f"its data cannot be decompressed ({error})") from None
        if received != info.file_size:
            raise self._damaged(
                info, f"it declares {info.file_size} bytes but holds {received} or more"
            )
        return b"".join(chunks)

    def close(self) -> None:
        """Close the archive (and the file it was read from, when it opened it)."""
        self._archive.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInput(self.field, f"the zip has no entry {name!r}") from None

    def _damaged(self, info: zipfile.ZipInfo, reason: str) -> InvalidInput:
        return InvalidInput(self.field, f"the zip entry {info.filename!r} is damaged: {reason}")


def open_zip(
    source: bytes | str | os.PathLike[str] | IO[bytes],
    *,
    limits: ArchiveLimits | None = None,
    field: str = "file",
) -> SafeZip:
    """Open a zip archive from a user after checking its whole directory.

    Args:
        source: The archive's bytes, its path, or a binary file object.
        limits: The limits to check against; default: those of ``Settings``.
        field: The name given to the file in error messages.

    Returns:
        The checked archive.

    Raises:
        InvalidInput: Not a zip, or an entry is unsafe (a path outside the archive, a
            link, encrypted, an unknown compression method, duplicated, overlapping).
        PayloadTooLarge: Too many entries, an entry or the whole too large once
            uncompressed, or an entry compressed suspiciously well (a zip bomb).
    """
    limits = limits or ArchiveLimits.from_settings()
    file: Any
    if isinstance(source, bytes | bytearray):
        file = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        try:
            file = Path(source).open("rb")  # noqa: SIM115 - the SafeZip closes it
        except OSError as error:
            raise InvalidInput(field, f"cannot be read ({error.strerror})") from None
    else:
        file = source
    try:
        entries = _declared_entries(file)
        if entries is not None and entries > limits.max_entries:
            # Refused from the end record, before zipfile reads every entry's header.
            raise PayloadTooLarge(
                field,
                f"the zip has {entries} entries",
                limit="max_archive_entries",
                maximum=limits.max_entries,
            )
        try:
            archive = zipfile.ZipFile(file)
        except Exception as error:  # a hostile file can make zipfile raise almost anything
            raise InvalidInput(field, f"not a readable zip archive ({error})") from None
    except BaseException:
        if file is not source:
            file.close()
        raise
    opened = SafeZip(archive, limits, field, owned=file if file is not source else None)
    try:
        _check_directory(archive, limits, field)
    except BaseException:
        opened.close()
        raise
    return opened


def _declared_entries(file: IO[bytes]) -> int | None:
    """The entry count the zip's end record declares, or None if there is no end record."""
    try:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        tail_length = min(size, _END_RECORD_BYTES + _MAX_COMMENT_BYTES)
        file.seek(size - tail_length)
        tail = file.read(tail_length)
        file.seek(0)
    except (OSError, ValueError):
        return None
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) < position + _END_RECORD_BYTES:
        return None
    (entries,) = struct.unpack("<H", tail[position + 10 : position + 12])
    locator = position - _ZIP64_LOCATOR_BYTES
    if entries == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        # Zip64: the count is in a larger record the locator points to.
        (record_at,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        try:
            file.seek(record_at)
            record = file.read(56)
            file.seek(0)
        except (OSError, ValueError, OverflowError):
            return None
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            (entries,) = struct.unpack("<Q", record[32:40])
    return int(entries)


def _check_directory(archive: zipfile.ZipFile, limits: ArchiveLimits, field: str) -> None:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise PayloadTooLarge(
            field,
            f"the zip has {len(infos)} entries",
            limit="max_archive_entries",
            maximum=limits.max_entries,
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        where = f"the zip entry {name!r}"
        problem = _name_problem(name)
        if problem:
            raise InvalidInput(field, f"{where} {problem}")
        if name in seen:
            raise InvalidInput(field, f"{where} appears twice")
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidInput(field, f"{where} is a symbolic link")
        if info.flag_bits & 0x1:
            raise InvalidInput(field, f"{where} is encrypted")
        if info.compress_type not in METHODS:
            raise InvalidInput(
                field,
                f"{where} uses compression method {info.compress_type}; only "
                f"{' and '.join(METHODS.values())} are read",
            )
        if info.file_size > limits.max_member_bytes:
            raise PayloadTooLarge(
                field,
                f"{where} holds {info.file_size} bytes uncompressed",
                limit="max_archive_member_bytes",
                maximum=limits.max_member_bytes,
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise PayloadTooLarge(
                field,
                f"{where} expands {ratio:.0f} times (a zip bomb?)",
                limit="max_compression_ratio",
                maximum=limits.max_ratio,
            )
        total += info.file_size
    if total > limits.max_total_bytes:
        raise PayloadTooLarge(
            field,
            f"the zip holds {total} bytes uncompressed",
            limit="max_archive_bytes",
            maximum=limits.max_total_bytes,
        )
    _check_no_overlap(infos, archive.start_dir, field)


def _check_no_overlap(infos: list[zipfile.ZipInfo], directory_start: int, field: str) -> None:
    # Each entry's local header and data must end before the next entry begins: entries
    # that share their compressed data multiply what a small file expands to.
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for current, following in zip(ordered, [*ordered[1:], None], strict=True):
        encoding = "utf-8" if current.flag_bits & 0x800 else "cp437"
        try:
            name_bytes = len(current.orig_filename.encode(encoding))
        except UnicodeEncodeError:
            name_bytes = len(current.orig_filename.encode("utf-8"))
        end = current.header_offset + _LOCAL_HEADER_BYTES + name_bytes + current.compress_size
        limit = following.header_offset if following is not None else directory_start
        if end > limit:
            raise InvalidInput(
                field, f"the zip entry {current.filename!r} overlaps another entry (a zip bomb?)"
            )
