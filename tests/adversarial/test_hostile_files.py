"""Every file of the hostile corpus is refused with its reason, and no code runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import hostile  # noqa: E402 - needs the path above

from convscope.errors import PayloadTooLarge  # noqa: E402

MARKER = Path("/nonexistent-convscope-marker")
CORPUS = {item.name: item for item in hostile.corpus(MARKER)}


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_file_is_refused_with_its_reason(name: str, tmp_path: Path) -> None:
    item = CORPUS[name]
    refusal = hostile.READERS[item.kind](item.data)
    assert item.reason in str(refusal)
    if "limit" in item.reason or item.reason.startswith("max_"):
        assert isinstance(refusal, PayloadTooLarge)


def test_no_pickle_runs_its_code(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    for item in hostile.hostile_pickles(marker):
        hostile.refuse_pickle(item.data)
    assert not marker.exists()


def test_the_benign_versions_are_accepted() -> None:
    # The corpus is hostile because of what was changed, not because its base is broken.
    from convscope.models.io import check_keras_archive
    from convscope.untrusted import decode_image, open_zip

    check_keras_archive(hostile._keras_file())
    assert decode_image(hostile._image("PNG"), 8, False).shape == (8, 8, 3)
    assert decode_image(hostile._image("JPEG"), 8, True).shape == (8, 8, 1)
    with open_zip(hostile._zip([("cat/a.png", b"abc")])) as archive:
        assert archive.read("cat/a.png") == b"abc"
