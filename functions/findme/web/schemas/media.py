"""Uploads, my photos, image metadata and downloads."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, Field

from findme.domain.records import Image, JobStatus
from findme.services.media import PhotoLinks
from findme.web.schemas.common import FacialArea, PageOut, example

_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"

_IMAGE: dict[str, Any] = {
    "image_id": _UUID,
    "group_id": _UUID,
    "status": "processed",
    "file_name": "IMG_0001.jpg",
    "width": 3000,
    "height": 2000,
    "captured_at": "2026-06-21T19:42:05-07:00",
    "face_count": 1,
    "common": False,
    "tags": ["stage"],
    "description": "",
    "section_id": None,
    "created_at": "2026-11-22T10:00:00Z",
    "url": "https://...",
    "thumbnail_url": "https://...",
    "preview_url": "https://...",
    "expires": "2026-11-22T11:00:00Z",
}


# --- uploads ------------------------------------------------------------------------------------
class DriveUpload(BaseModel):
    model_config = example(
        drive_url="https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view?usp=sharing",
        group_id=_UUID,
    )
    drive_url: str = Field(
        max_length=2048,
        description="A Google Drive share link to one photo (`.../file/d/{id}/view`) or to a "
        "folder shared with anyone with the link (`.../drive/folders/{id}`): its photos.",
    )
    group_id: str
    section_id: str | None = Field(
        default=None, max_length=64, description="Put the photo into this section of the group."
    )


class UploadOut(BaseModel):
    model_config = example(
        message="Upload complete. Processing has been triggered.", image_ids=[_UUID]
    )
    message: str
    image_ids: list[str] = Field(default_factory=list)


class PresignFile(BaseModel):
    file_name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="image/jpeg", max_length=100)
    size_bytes: int | None = Field(default=None, ge=1, description="Declared size, checked early.")


class PresignRequest(BaseModel):
    model_config = example(
        files=[{"file_name": "IMG_0001.jpg", "content_type": "image/jpeg", "size_bytes": 2400000}]
    )
    files: list[PresignFile] = Field(min_length=1)
    section_id: str | None = Field(
        default=None,
        max_length=64,
        description="Put every photo of this request into this section of the group "
        "(sent as the signed field x-amz-meta-section-id).",
    )


class PresignedUpload(BaseModel):
    """POST ``fields`` plus the file (form field ``file``, last) to ``url`` before ``expires``."""

    image_id: str
    file_name: str
    key: str
    url: str
    fields: dict[str, str]
    expires: datetime
    max_bytes: int


class PresignOut(BaseModel):
    model_config = example(
        uploads=[
            {
                "image_id": _UUID,
                "file_name": "IMG_0001.jpg",
                "key": f"originals/{_UUID}/{_UUID}.jpg",
                "url": "https://findme-media.s3.amazonaws.com/",
                "fields": {"key": "originals/...", "Content-Type": "image/jpeg", "policy": "..."},
                "expires": "2026-11-22T11:00:00Z",
                "max_bytes": 26214400,
            }
        ]
    )
    uploads: list[PresignedUpload]


# --- my photos ----------------------------------------------------------------------------
class PhotoOut(BaseModel):
    image_id: str
    group_id: str
    url: str = Field(description="The original, as uploaded.")
    thumbnail_url: str | None = Field(
        default=None,
        description="Long side 320 px, EXIF-oriented, no metadata (null until processed).",
    )
    preview_url: str | None = Field(
        default=None, description="Long side 1,280 px, EXIF-oriented, no metadata."
    )
    expires: datetime
    similarity_score: float | None = Field(
        default=None, description="Best cosine similarity to the user's reference faces."
    )


class GetOut(BaseModel):
    model_config = example(
        personal_images=[
            {
                "image_id": _UUID,
                "group_id": _UUID,
                "url": "https://findme-media.s3.amazonaws.com/originals/...?X-Amz-Signature=...",
                "thumbnail_url": "https://findme-media.s3.amazonaws.com/thumbnails/...",
                "preview_url": "https://findme-media.s3.amazonaws.com/previews/...",
                "expires": "2026-11-22T11:00:00Z",
                "similarity_score": 0.71,
            }
        ],
        common_images=[],
    )
    personal_images: list[PhotoOut]
    common_images: list[PhotoOut]


class ImageOut(BaseModel):
    model_config = example(**_IMAGE)
    image_id: str
    group_id: str
    status: str
    failure_reason: str | None = None
    file_name: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    captured_at: datetime | None = Field(
        default=None,
        description="EXIF DateTimeOriginal, with the camera's UTC offset when it recorded one "
        "(OffsetTimeOriginal); otherwise the camera's wall time, marked Z.",
    )
    face_count: int = 0
    common: bool = False
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    section_id: str | None = None
    uploaded_by: str | None = None
    created_at: datetime
    processed_at: datetime | None = None
    url: str | None = None
    thumbnail_url: str | None = Field(default=None, description="Long side 320 px.")
    preview_url: str | None = Field(default=None, description="Long side 1,280 px.")
    expires: datetime | None = None


class ImagePage(PageOut[ImageOut]):
    """A page of images (a person's, or a group's filtered list)."""


class ImageFaceOut(BaseModel):
    """A face of an image with its person, for drawing named boxes on the photo."""

    face_id: str
    facial_area: FacialArea
    confidence: float
    person_id: str | None = None
    person_name: str | None = None


class ImageDetailOut(ImageOut):
    """``GET /images/{image_id}``: the image, and its faces in detection order."""

    model_config = example(
        **_IMAGE,
        faces=[
            {
                "face_id": _UUID,
                "facial_area": {"x": 1210, "y": 540, "w": 260, "h": 310},
                "confidence": 0.93,
                "person_id": _UUID,
                "person_name": "Alice",
            }
        ],
    )
    faces: list[ImageFaceOut]


class ImageUpdate(BaseModel):
    model_config = example(tags=["stage", "speech"], description="Opening talk", common=True)
    tags: list[str] | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=2000)
    section_id: str | None = None
    common: bool | None = None


class DownloadRequest(BaseModel):
    model_config = example(image_ids=[_UUID])
    image_ids: list[str] = Field(min_length=1, max_length=1000)


class DownloadStatus(BaseModel):
    """``GET /download/{job_id}``: ``url``/``expires`` once ``status`` is ``ready``."""

    model_config = example(
        job_id=_UUID,
        status="ready",
        total=12,
        done=12,
        failed=0,
        url="https://findme-media.s3.amazonaws.com/archives/...zip?X-Amz-Signature=...",
        expires="2026-11-29T10:00:00Z",
        missing=[],
        error=None,
    )
    job_id: str
    status: JobStatus
    total: int = 0
    done: int = 0
    failed: int = 0
    url: str | None = None
    expires: datetime | None = None
    missing: list[str] = Field(default_factory=list)
    error: str | None = None


def captured_at(image: Image) -> datetime | None:
    """The capture time in the camera's UTC offset when EXIF recorded it (else as stored)."""
    if image.captured_at is None or image.captured_utc_offset_min is None:
        return image.captured_at
    return image.captured_at.astimezone(timezone(timedelta(minutes=image.captured_utc_offset_min)))


def image_out(image: Image, links: PhotoLinks | None = None) -> ImageOut:
    """``image`` as the API shows it: ``captured_at`` in the camera's UTC offset and, with
    ``links``, the presigned URLs of the original and its renditions."""
    shown: dict[str, Any] = {"captured_at": captured_at(image)}
    if links is not None:
        shown |= dataclasses.asdict(links)
    return ImageOut.model_validate(image, from_attributes=True).model_copy(update=shown)
