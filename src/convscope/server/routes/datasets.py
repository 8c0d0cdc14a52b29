"""Datasets: the registry, described without loading anything, and the user's own uploads."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from convscope.datasets import dataset_info, dataset_names, list_datasets
from convscope.datasets.uploaded import decode_zip, use_directory
from convscope.errors import InvalidInput, UnsupportedFormat
from convscope.server.deps import SettingsDep, StoreDep
from convscope.server.limits import accepts_uploads
from convscope.server.schemas import DatasetOut
from convscope.server.uploads import ZIP_SIGNATURES, read_upload, shown_name
from convscope.store.uploads import check_dataset_name

router = APIRouter(tags=["datasets"])


@router.get("/datasets", response_model=list[DatasetOut])
def datasets() -> list[DatasetOut]:
    """Every dataset, whether its files are here, and what it holds when known."""
    return [DatasetOut.model_validate(dataclasses.asdict(info)) for info in list_datasets()]


@router.post(
    "/datasets",
    response_model=DatasetOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        413: {"description": "The zip is larger than the limit"},
        415: {"description": "Not a zip archive"},
        422: {"description": "The zip is refused, or holds fewer than two usable classes"},
    },
)
@accepts_uploads
def upload_dataset(
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A zip with one folder of images per class")],
    name: Annotated[str, Form(description="The dataset's name: letters, digits, '_', '-'")],
    image_size: Annotated[int, Form(description="Images are resized to this side")] = 32,
    grayscale: Annotated[bool, Form(description="Keep one channel")] = False,
) -> DatasetOut:
    """Add a dataset from a zip of class folders (PNG or JPEG images). Its images are
    decoded and checked now, and kept in the store; it then trains like any other."""
    check_dataset_name(name)
    if name in dataset_names():
        raise InvalidInput("name", f"a dataset named {name!r} exists already")
    data = read_upload(file, settings.max_upload_bytes, "max_upload_bytes")
    if not data.startswith(ZIP_SIGNATURES):
        raise UnsupportedFormat("file", "not a zip archive (a zip of one folder per class)")
    store.datasets_dir.mkdir(parents=True, exist_ok=True)
    upload = store.datasets_dir / f".tmp-{secrets.token_hex(8)}.zip"
    try:
        upload.write_bytes(data)
        dataset, manifest = decode_zip(
            upload, shown_name(file, "dataset.zip"), image_size=image_size, grayscale=grayscale
        )
    finally:
        upload.unlink(missing_ok=True)
    arrays = {
        "x_train": dataset.x_train,
        "y_train": dataset.y_train,
        "x_test": dataset.x_test,
        "y_test": dataset.y_test,
    }
    store.save_dataset(name, arrays, {"title": name, **manifest})
    use_directory(store.datasets_dir)
    return DatasetOut.model_validate(dataclasses.asdict(dataset_info(name)))
