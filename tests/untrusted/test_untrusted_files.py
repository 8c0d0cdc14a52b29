"""The readers of users' files accept what is fine and bound what they read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convscope.config import Settings
from convscope.errors import InvalidInput, PayloadTooLarge
from convscope.untrusted import ArchiveLimits, decode_image, open_image, open_zip


def zip_bytes(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        archive.writestr("cat/", b"")  # a folder entry
    return buffer.getvalue()


def png(mode: str, size: tuple[int, int] = (6, 4), colour: object = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_plain_zip_reads_back_from_bytes_a_path_or_a_file(tmp_path: Path) -> None:
    entries = {"cat/a.png": b"x" * 5000, "dog/b.png": bytes(range(256))}
    data = zip_bytes(entries)
    path = tmp_path / "pets.zip"
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        with open_zip(source) as archive:
            assert archive.names() == list(entries)
            assert {name: archive.read(name) for name in archive} == entries
            assert archive.size("cat/a.png") == 5000


def test_limits_come_from_settings_and_name_themselves() -> None:
    data = zip_bytes({"a": b"y" * 3000, "b": b"z"})
    limits = ArchiveLimits.from_settings(Settings(max_archive_bytes=2000))
    with pytest.raises(PayloadTooLarge) as caught:
        open_zip(data, limits=limits, field="dataset")
    assert (caught.value.field, caught.value.limit) == ("dataset", "max_archive_bytes")
    assert ArchiveLimits.from_settings().max_entries == Settings.max_archive_entries
    archive = open_zip(data, limits=ArchiveLimits.from_settings(max_member_bytes=3000))
    with archive, pytest.raises(InvalidInput, match="no entry 'c'"):
        archive.read("c")


def test_well_compressed_small_entries_are_not_bombs() -> None:
    # A small file of one colour compresses far better than 100:1 and is fine.
    data = zip_bytes({"cat/flat.png": bytes(500_000)})
    with open_zip(data) as archive:
        assert len(archive.read("cat/flat.png")) == 500_000


def test_images_decode_to_the_asked_size_and_channels() -> None:
    pixels = decode_image(png("RGB"), 5, False)
    assert pixels.shape == (5, 5, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[2, 2]) == (10, 200, 30)
    grey = decode_image(png("RGB"), 3, True)
    assert grey.shape == (3, 3, 1)
    # Transparent pixels are shown over white.
    clear = decode_image(png("RGBA", colour=(0, 0, 0, 0)), 2, False)
    assert np.all(clear == 255)
    image = open_image(png("RGB", (7, 9)))
    assert image.size == (7, 9) and image.mode == "RGB"


def test_image_limits_name_themselves() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        decode_image(png("RGB", (10, 10)), 4, False, max_pixels=99)
    assert caught.value.limit == "max_image_pixels"
    assert "10x10 pixels" in str(caught.value)
    with pytest.raises(PayloadTooLarge) as caught:
        open_image(png("RGB"), max_bytes=10, field="upload")
    assert (caught.value.field, caught.value.limit) == ("upload", "max_image_bytes")
