"""A corpus of hostile files, built here from scratch, and the reader that must refuse each.

Zips that lie about their sizes, bomb, climb out of themselves, link, encrypt, use an
unknown compression method or a bad CRC; images that are empty, truncated, of another
format or decompression bombs; ``.keras`` files whose config or weights would make Keras
allocate gigabytes; pickles that run code. The tests (``test_hostile_files.py``) check that
each is refused with its reason; ``bench/adversarial.py`` times the refusals and measures
their peak memory.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from convscope.errors import ConvscopeError, InvalidInput
from convscope.untrusted import ArchiveLimits, decode_image, open_zip

MB = 1 << 20


@dataclass(frozen=True)
class Hostile:
    """One hostile file.

    Attributes:
        name: What it is, for test ids and reports.
        kind: ``zip``, ``image``, ``keras`` or ``pickle``: which reader it is given to.
        data: The file's bytes.
        reason: A part of the message it must be refused with.
    """

    name: str
    kind: str
    data: bytes
    reason: str


# --- zips -------------------------------------------------------------------------------


def _zip(
    entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_STORED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _records(data: bytes) -> list[tuple[int, int]]:
    """``(local header offset, central record offset)`` of each entry, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        offsets = [info.header_offset for info in archive.infolist()]
        position = archive.start_dir
    central = []
    for _ in offsets:
        assert data[position : position + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack(
            "<HHH", data[position + 28 : position + 34]
        )
        central.append(position)
        position += 46 + name_len + extra_len + comment_len
    return list(zip(offsets, central, strict=True))


# Byte offsets of fields in a local header / a central directory record.
_LOCAL = {"flags": 6, "method": 8, "crc": 14, "compressed": 18, "size": 22}
_CENTRAL = {"flags": 8, "method": 10, "crc": 16, "compressed": 20, "size": 24, "offset": 42}
_FORMATS = {
    "flags": "<H",
    "method": "<H",
    "crc": "<I",
    "compressed": "<I",
    "size": "<I",
    "offset": "<I",
}


def _patch(data: bytes, index: int, **fields: int) -> bytes:
    """Rewrite header fields of entry ``index``, in its local header and central record."""
    out = bytearray(data)
    local, central = _records(data)[index]
    for field, value in fields.items():
        fmt = _FORMATS[field]
        if field in _LOCAL:
            struct.pack_into(fmt, out, local + _LOCAL[field], value)
        struct.pack_into(fmt, out, central + _CENTRAL[field], value)
    return bytes(out)


def _random(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _overlapping_zip() -> bytes:
    # Two central records whose entries share the same data (the "better zip bomb").
    data = _zip([("a.png", _random(4096)), ("b.png", _random(4096, 1))])
    (first_local, _), _ = _records(data)
    return _patch(data, 1, offset=first_local)


def hostile_zips() -> list[Hostile]:
    """Zips to be refused by :func:`convscope.untrusted.open_zip` or its ``read``."""
    fine = _random(64 * 1024)
    zeros = bytes(20 * MB)
    lies_small = _patch(_zip([("cat/a.png", zeros)], zipfile.ZIP_DEFLATED), 0, size=100)
    one_mb_lies = _zip([(f"cat/{i}.png", _random(64 * 1024, i)) for i in range(16)])
    for index in range(16):  # about 1 MB that claims 16 x 6 MB
        one_mb_lies = _patch(one_mb_lies, index, size=6 * MB)
    encrypted = _patch(_zip([("cat/a.png", fine)]), 0, flags=0x1)
    deflate = _zip([("cat/a.png", fine)], zipfile.ZIP_DEFLATED)
    return [
        Hostile("zip: not a zip", "zip", b"plain text, not an archive", "not a readable zip"),
        Hostile("zip: empty file", "zip", b"", "not a readable zip"),
        Hostile("zip: cut in half", "zip", _zip([("a", fine)])[: 32 * 1024], "not a readable zip"),
        Hostile("zip: ../ entry", "zip", _zip([("../evil.png", b"x")]), "points outside"),
        Hostile("zip: absolute entry", "zip", _zip([("/etc/evil", b"x")]), "points outside"),
        Hostile("zip: drive entry", "zip", _zip([("C:\\evil.png", b"x")]), "points outside"),
        Hostile("zip: backslash ..", "zip", _zip([("cat\\..\\..\\x", b"x")]), "points outside"),
        Hostile("zip: symbolic link", "zip", _symlink_zip(), "symbolic link"),
        Hostile("zip: duplicate names", "zip", _duplicate_zip(), "appears twice"),
        Hostile("zip: encrypted entry", "zip", encrypted, "encrypted"),
        Hostile("zip: bzip2 method", "zip", _zip([("a", fine)], zipfile.ZIP_BZIP2), "method 12"),
        Hostile("zip: unknown method 99", "zip", _patch(deflate, 0, method=99), "method 99"),
        Hostile("zip: bad CRC", "zip", _patch(_zip([("cat/a.png", fine)]), 0, crc=1234), "CRC"),
        Hostile("zip: bad deflate data", "zip", _corrupt_deflate(), "damaged"),
        Hostile(
            "zip: 1000:1 bomb", "zip", _zip([("a.png", zeros)], zipfile.ZIP_DEFLATED), "zip bomb"
        ),
        Hostile("zip: declares 100 B, holds 20 MB", "zip", lies_small, "damaged"),
        Hostile("zip: 1 MB declaring 96 MB", "zip", one_mb_lies, "declares 6291456 bytes"),
        Hostile(
            "zip: declares 4 GB", "zip", _patch(_zip([("a", fine)]), 0, size=2**32 - 1), "limit"
        ),
        Hostile("zip: overlapping entries", "zip", _overlapping_zip(), "overlaps"),
        Hostile("zip: too many entries", "zip", _many_entries(2_000), "max_archive_entries"),
    ]


#: The limits the test zips are read with: the defaults, with fewer entries so that the
#: "too many entries" zip stays small.
TEST_ZIP_LIMITS = ArchiveLimits.from_settings(max_entries=1_000)


def _symlink_zip() -> bytes:
    link = zipfile.ZipInfo("cat/link.png")
    link.external_attr = (0o120777) << 16
    return _zip([(link, b"/etc/passwd")])


def _duplicate_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, _quiet_duplicates():
        archive.writestr("cat/a.png", b"one")
        archive.writestr("cat/a.png", b"two")
    return buffer.getvalue()


class _quiet_duplicates:
    """zipfile warns when a name is written twice; here it is the point."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", UserWarning)

    def __exit__(self, *args: object) -> None:
        self._catch.__exit__(*args)


def _corrupt_deflate() -> bytes:
    data = _zip([("cat/a.png", _random(64 * 1024))], zipfile.ZIP_DEFLATED)
    ((local, _),) = _records(data)
    start = local + 30 + len("cat/a.png") + 100
    return data[:start] + bytes(200) + data[start + 200 :]


def _many_entries(count: int) -> bytes:
    return _zip([(f"cat/{i}.png", b"") for i in range(count)])


def refuse_zip(data: bytes, limits: ArchiveLimits = TEST_ZIP_LIMITS) -> InvalidInput:
    """Open a zip and read every entry; return the refusal (fail if there is none)."""
    try:
        with open_zip(data, limits=limits) as archive:
            for name in archive.names():
                archive.read(name)
    except InvalidInput as error:
        return error
    raise AssertionError("the zip was accepted")


# --- images -----------------------------------------------------------------------------


def _image(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims another size (its CRC fixed, as a forger would)."""
    data = bytearray(_image("PNG"))
    ihdr = data.index(b"IHDR")
    struct.pack_into(">II", data, ihdr + 4, width, height)
    struct.pack_into(">I", data, ihdr + 17, zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_image("JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def _png_bomb() -> bytes:
    """A PNG of 12,000 x 12,000 black pixels, compressed to a few hundred KB."""
    width = height = 12_000
    row = b"\x00" + bytes(width)  # filter byte, then one grey byte per pixel
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def hostile_images() -> list[Hostile]:
    """Images to be refused by :func:`convscope.untrusted.decode_image`."""
    png, jpeg = _image("PNG"), _image("JPEG")
    return [
        Hostile("image: empty file", "image", b"", "empty file"),
        Hostile("image: text", "image", b"just some words", "not a PNG or JPEG"),
        Hostile("image: GIF", "image", _image("GIF", mode="P"), "not a PNG or JPEG"),
        Hostile("image: BMP", "image", _image("BMP"), "not a PNG or JPEG"),
        Hostile("image: TIFF", "image", _image("TIFF"), "not a PNG or JPEG"),
        Hostile("image: WebP", "image", _image("WEBP"), "not a PNG or JPEG"),
        Hostile("image: truncated PNG", "image", png[: len(png) // 2], "truncated"),
        Hostile("image: truncated JPEG", "image", jpeg[: len(jpeg) // 2], "truncated"),
        Hostile("image: PNG header only", "image", png[:40], "damaged"),
        Hostile("image: PNG signature, then junk", "image", png[:8] + b"junk" * 50, "truncated"),
        Hostile(
            "image: PNG claiming 100k x 100k",
            "image",
            _png_claiming(100_000, 100_000),
            "max_image_pixels",
        ),
        Hostile(
            "image: JPEG claiming 65k x 65k",
            "image",
            _jpeg_claiming(65_000, 65_000),
            "max_image_pixels",
        ),
        Hostile("image: 144-megapixel PNG bomb", "image", _png_bomb(), "max_image_pixels"),
        Hostile("image: PNG with a bad header CRC", "image", _bad_crc_png(png), "damaged"),
        Hostile("image: zip in a PNG's clothes", "image", png[:8] + _zip([("a", b"x")]), "damaged"),
    ]


def _bad_crc_png(png: bytes) -> bytes:
    data = bytearray(png)
    ihdr = data.index(b"IHDR")
    data[ihdr + 17] ^= 0xFF  # the first byte of the header chunk's CRC
    return bytes(data)


def refuse_image(data: bytes) -> InvalidInput:
    """Decode an image; return the refusal (fail if there is none)."""
    try:
        decode_image(data, 32, False)
    except InvalidInput as error:
        return error
    raise AssertionError("the image was accepted")


# --- .keras files -----------------------------------------------------------------------


def _keras_file(
    edit_config: Callable[[dict], None] | None = None, weights: bytes | None = None
) -> bytes:
    """A small, valid ``.keras`` file (written by hand), its config or weights replaced."""
    import h5py

    config: dict[str, Any] = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input"},
                    "registered_name": None,
                },
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "config": {"name": "dense", "units": 3, "use_bias": True},
                    "registered_name": None,
                    "build_config": {"input_shape": [None, 4]},
                },
            ],
        },
        "registered_name": None,
    }
    if edit_config is not None:
        edit_config(config)
    if weights is None:
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5:
            h5["layers/dense/vars/0"] = np.zeros((4, 3), np.float32)
            h5["layers/dense/vars/1"] = np.zeros((3,), np.float32)
        weights = buffer.getvalue()
    return _zip(
        [
            ("metadata.json", json.dumps({"keras_version": "3"}).encode()),
            ("config.json", json.dumps(config).encode()),
            ("model.weights.h5", weights),
        ]
    )


def _huge_input(config: dict) -> None:
    layers = config["config"]["layers"]
    layers[0]["config"]["batch_shape"] = [None, 4096, 4096, 64]
    layers[1]["build_config"] = {"input_shape": [None, 4096 * 4096 * 64]}
    layers.insert(1, {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "f"}})


def _huge_units(config: dict) -> None:
    config["config"]["layers"][1]["config"]["units"] = 2**30


def _declared_build(config: dict) -> None:
    config["config"]["layers"][1]["build_config"] = {"input_shape": [None, 10**9]}


def _lambda(config: dict) -> None:
    config["config"]["layers"][1].update(class_name="Lambda", config={"function": "eval"})


def _compressed_weights_bomb() -> bytes:
    """A weights file of a few KB holding a 4-billion-number dataset (unwritten chunks)."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_dataset(
            "layers/dense/vars/0", shape=(2**32,), dtype="f4", chunks=(2**20,), compression="gzip"
        )
        h5["layers/dense/vars/1"] = np.zeros((3,), np.float32)
    return buffer.getvalue()


def hostile_keras_files() -> list[Hostile]:
    """``.keras`` files to be refused by :func:`convscope.models.io.load_model`."""
    return [
        Hostile(
            "keras: a Dense of 3 billion weights",
            "keras",
            _keras_file(_huge_input),
            "max_model_params",
        ),
        Hostile("keras: 2^30 units", "keras", _keras_file(_huge_units), "max_model_params"),
        Hostile(
            "keras: declared build shape", "keras", _keras_file(_declared_build), "max_model_params"
        ),
        Hostile(
            "keras: compressed 16 GB weights",
            "keras",
            _keras_file(weights=_compressed_weights_bomb()),
            "max_model_params",
        ),
        Hostile("keras: Lambda layer", "keras", _keras_file(_lambda), "arbitrary Python code"),
        Hostile("keras: zip bomb config", "keras", _keras_bomb(), "zip bomb"),
        Hostile("keras: not a zip", "keras", b"\x89HDF\r\n\x1a\n", "not a readable zip"),
    ]


def _keras_bomb() -> bytes:
    data = _keras_file()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    entries = [(n, d + b" " * (60 * MB) if n == "metadata.json" else d) for n, d in entries]
    return _zip(entries, zipfile.ZIP_DEFLATED)


def refuse_keras(data: bytes) -> ConvscopeError:
    """Load a ``.keras`` file; return the refusal (fail if there is none)."""
    from convscope.models.io import load_model

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.keras"
        path.write_bytes(data)
        try:
            load_model(path)
        except ConvscopeError as error:
            return error
    raise AssertionError("the model was loaded")


# --- pickles ----------------------------------------------------------------------------


class _RunsCode:
    """Unpickling it would call ``os.system``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


class _Evaluates:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return eval, ("__import__('os').getcwd()",)


def hostile_pickles(marker: Path) -> list[Hostile]:
    """CIFAR-10 batches to be refused by :func:`convscope.datasets.cifar10.read_batch`.

    Args:
        marker: A file the code-running pickles would create.
    """
    touch = f"touch {marker}"
    return [
        Hostile(
            "pickle: os.system", "pickle", pickle.dumps({b"data": _RunsCode(touch)}), "refusing"
        ),
        Hostile(
            "pickle: eval",
            "pickle",
            pickle.dumps({b"data": _Evaluates(), b"labels": []}),
            "refusing",
        ),
        Hostile(
            "pickle: object array",
            "pickle",
            pickle.dumps({b"data": np.array([[1, "a"]], dtype=object), b"labels": [0]}, protocol=2),
            "not a plain CIFAR-10 pickle",
        ),
        Hostile(
            "pickle: truncated",
            "pickle",
            pickle.dumps({b"data": list(range(1000))})[:50],
            "not a plain",
        ),
    ]


def refuse_pickle(data: bytes) -> ConvscopeError:
    """Read a CIFAR-10 batch; return the refusal (fail if there is none)."""
    from convscope.datasets.cifar10 import read_batch

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data_batch_1"
        path.write_bytes(data)
        try:
            read_batch(path)
        except ConvscopeError as error:
            return error
    raise AssertionError("the pickle was read")


READERS: dict[str, Callable[[bytes], Exception]] = {
    "zip": refuse_zip,
    "image": refuse_image,
    "keras": refuse_keras,
    "pickle": refuse_pickle,
}


def corpus(marker: Path) -> list[Hostile]:
    """Every hostile file."""
    return [*hostile_zips(), *hostile_images(), *hostile_keras_files(), *hostile_pickles(marker)]
