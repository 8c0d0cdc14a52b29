"""Uploaded images: a PNG or JPEG of the user's, to look at through any lens of any run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile, status

from convscope.server.deps import SettingsDep, StoreDep
from convscope.server.limits import accepts_uploads
from convscope.server.schemas import UploadedImage
from convscope.server.uploads import read_upload
from convscope.untrusted import open_image

router = APIRouter(tags=["uploads"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file, or its image, is larger than a limit"},
    415: {"description": "Not a PNG or JPEG image"},
    422: {"description": "A damaged or truncated image"},
}


@router.post(
    "/uploads/images",
    response_model=UploadedImage,
    status_code=status.HTTP_201_CREATED,
    responses=_RESPONSES,
)
@accepts_uploads
def upload_image(
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A PNG or JPEG image")],
) -> UploadedImage:
    """Keep a PNG or JPEG; give ``{"image": {"upload": id}}`` to a lens to look at it. It
    is decoded (and refused if it is not a whole image within the limits) before anything
    is stored."""
    data = read_upload(file, settings.max_upload_bytes, "max_upload_bytes")
    picture = open_image(data, max_pixels=settings.max_image_pixels, field="file")
    width, height = picture.size
    return UploadedImage(id=store.save_upload_image(data), width=width, height=height)
