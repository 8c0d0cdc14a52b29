"""A folder of class sub-folders, or a zip of one: decoding limits, skipped files, zip safety."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convscope import config
from convscope.datasets import dataset_info, list_datasets, load_dataset
from convscope.errors import InvalidInput, PayloadTooLarge

RED, BLUE = (220, 30, 30), (30, 30, 220)


def image_bytes(colour: tuple[int, int, int], fmt: str = "PNG", size: int = 12) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size + 3), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def noise_png() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def class_tree() -> dict[str, bytes]:
    """Relative path -> content: 6 red cats (one JPEG), 5 blue dogs, and five bad files."""
    files = {f"cat/{i}.png": image_bytes(RED) for i in range(5)}
    files["cat/5.jpg"] = image_bytes(RED, "JPEG")
    files.update({f"dog/{i}.png": image_bytes(BLUE) for i in range(5)})
    files["dog/broken.png"] = noise_png()[:600]
    files["dog/fake.png"] = b"\x89PNG\r\n\x1a\n" + b"garbage" * 10
    files["dog/anim.gif"] = image_bytes(BLUE, "GIF")
    files["cat/notes.txt"] = b"not an image"
    files["readme.txt"] = b"about this folder"
    files["cat/.DS_Store"] = b"hidden"
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def test_folder_loads_classes_and_lists_skipped_files(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pets", class_tree())
    pets = load_dataset("folder", path=str(root))
    assert pets.class_names == ("cat", "dog")
    assert len(pets.y_train) + len(pets.y_test) == 11 and len(pets.y_test) == 2
    assert pets.x_train.shape[1:] == (32, 32, 3) and pets.x_train.dtype == np.uint8
    assert set(pets.y_test.tolist()) == {0, 1}  # stratified: one of each
    images = np.concatenate([pets.x_train, pets.x_test]).astype(int)
    labels = np.concatenate([pets.y_train, pets.y_test])
    assert np.all(images[labels == 0][..., 0] > 150) and np.all(images[labels == 1][..., 2] > 150)
    skipped = dict(pets.skipped)
    assert set(skipped) == {
        "dog/broken.png",
        "dog/fake.png",
        "dog/anim.gif",
        "cat/notes.txt",
        "readme.txt",
    }
    assert skipped["cat/notes.txt"] == "not a PNG or JPEG image"
    assert skipped["dog/anim.gif"] == "not a PNG or JPEG image"
    assert skipped["dog/broken.png"] == "a truncated PNG or JPEG file"
    assert skipped["dog/fake.png"] == "a truncated PNG or JPEG file"
    assert skipped["readme.txt"] == "not inside a class folder"
    assert pets.source == str(root)


def test_folder_options_and_determinism(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pets", class_tree())
    small = load_dataset("folder", path=root, image_size=16, grayscale=True, test_fraction=0.5)
    assert small.image_shape == (16, 16, 1)
    assert len(small.y_test) == 6
    again = load_dataset("folder", path=root, image_size=16, grayscale=True, test_fraction=0.5)
    assert np.array_equal(small.x_train, again.x_train)
    assert np.array_equal(small.y_train, again.y_train)


def test_zip_with_a_wrapping_folder_loads_like_the_folder(tmp_path: Path) -> None:
    tree = class_tree()
    del tree["readme.txt"]
    archive = write_zip(tmp_path / "pets.zip", {f"pets/{k}": v for k, v in tree.items()})
    from_zip = load_dataset("folder", path=archive)
    from_dir = load_dataset("folder", path=write_tree(tmp_path / "pets", tree))
    assert from_zip.class_names == ("cat", "dog")
    assert np.array_equal(from_zip.x_train, from_dir.x_train)
    assert "pets/dog/broken.png" in dict(from_zip.skipped)


@pytest.mark.parametrize(
    ("entry", "message"),
    [("../evil.png", "outside"), ("/etc/evil.png", "outside"), ("cat/../../x.png", "outside")],
)
def test_zip_with_a_traversal_entry_is_refused(tmp_path: Path, entry: str, message: str) -> None:
    files = {**class_tree(), entry: image_bytes(RED)}
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)  # ZipInfo keeps the name as written
            zipped.writestr(info, content)
    with pytest.raises(InvalidInput, match=message) as caught:
        load_dataset("folder", path=archive)
    assert caught.value.field == "path"
    assert entry in str(caught.value)


def test_zip_with_a_symlink_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "link.zip", class_tree())
    with zipfile.ZipFile(archive, "a") as zipped:
        link = zipfile.ZipInfo("cat/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(link, "/etc/passwd")
    with pytest.raises(InvalidInput, match="symbolic link"):
        load_dataset("folder", path=archive)


def test_zip_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_zip(tmp_path / "pets.zip", class_tree())
    monkeypatch.setattr(config.Settings, "max_archive_entries", 5)
    with pytest.raises(PayloadTooLarge, match="max_archive_entries = 5") as caught:
        load_dataset("folder", path=archive)
    assert caught.value.field == "path"
    monkeypatch.setattr(config.Settings, "max_archive_entries", 100)
    monkeypatch.setattr(config.Settings, "max_archive_bytes", 1000)
    with pytest.raises(PayloadTooLarge, match="max_archive_bytes"):
        load_dataset("folder", path=archive)


def test_folder_of_too_many_images_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree(tmp_path / "pets", class_tree())
    monkeypatch.setattr(config.Settings, "max_dataset_bytes", 8 * 8 * 3 * 4)
    with pytest.raises(PayloadTooLarge, match="max_dataset_bytes"):
        load_dataset("folder", path=root, image_size=8)


def test_images_over_the_pixel_limit_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = class_tree()
    files["cat/huge.png"] = image_bytes(RED, size=100)
    monkeypatch.setattr(config.Settings, "max_image_pixels", 5000)
    pets = load_dataset("folder", path=write_tree(tmp_path / "pets", files))
    assert "100x103 pixels (limit max_image_pixels = 5,000)" in dict(pets.skipped)["cat/huge.png"]
    assert len(pets.y_train) + len(pets.y_test) == 11


def test_symlinked_files_are_not_followed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pets", class_tree())
    (tmp_path / "secret.png").write_bytes(image_bytes(RED))
    (root / "cat" / "secret.png").symlink_to(tmp_path / "secret.png")
    pets = load_dataset("folder", path=root)
    assert "symbolic links" in dict(pets.skipped)["cat/secret.png"]


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda tmp: None, "needs a path"),
        (lambda tmp: "", "needs a path"),
        (lambda tmp: tmp / "nowhere", "neither a directory nor a zip"),
        (lambda tmp: write_tree(tmp / "t", {"notes.txt": b"x"}) / "notes.txt", "neither"),
        (lambda tmp: write_tree(tmp / "one", {"cat/a.png": image_bytes(RED)}), "at least two"),
    ],
)
def test_unusable_paths_are_invalid_input(tmp_path: Path, make_path, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make_path(tmp_path)
    options = {} if path is None else {"path": path}
    with pytest.raises(InvalidInput, match=message) as caught:
        load_dataset("folder", **options)
    assert caught.value.field == "path"


def test_folder_info_needs_a_path(tmp_path: Path) -> None:
    listed = {info.name: info for info in list_datasets()}["folder"]
    assert not listed.available and listed.reason and "needs a path" in listed.reason
    root = write_tree(tmp_path / "pets", class_tree())
    info = dataset_info("folder", path=root)
    assert info.available and info.class_names == ["cat", "dog"] and info.location == str(root)
    missing = dataset_info("folder", path=tmp_path / "nowhere")
    assert not missing.available and missing.reason and "neither" in missing.reason
