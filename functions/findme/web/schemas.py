"""API schemas (request and response bodies), separate from the persistence records.

Field names follow the seed specification exactly (``group_name``, ``common_photo_ids``,
``personal_images``, ``image_s3_path``, ...). Conversions from records are explicit
functions at the bottom. Every model carries an example for the OpenAPI document.
"""

# Example tokens below are documentation, not secrets.
# ruff: noqa: S105, S106
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from findme.domain.records import Group, GroupRole, Image, Job, JobStatus
from findme.services.groups import GroupSummary, Member
from findme.services.media import PhotoLinks

_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


def example(**values: Any) -> ConfigDict:
    """``model_config`` with one OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [values]})


# --- common -------------------------------------------------------------------------------
class ValidationIssue(BaseModel):
    """One problem found by request validation."""

    loc: list[str] = Field(description='Where: e.g. `["query", "limit"]`.', examples=[["body"]])
    msg: str
    type: str = Field(description="pydantic's error type, e.g. `greater_than_equal`.")


class ErrorOut(BaseModel):
    """Every error answer, whatever its status (see :mod:`findme.web.errors`).

    ``code`` is stable (clients switch on it), ``detail`` is for people. Some codes add keys
    (``reason``, ``max_bytes``, ``accepted``, ``image_ids``, ...); ``validation_error`` adds
    ``errors``.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "detail": "query.limit: Input should be greater than or equal to 1",
                    "code": "validation_error",
                    "errors": [
                        {
                            "loc": ["query", "limit"],
                            "msg": "Input should be greater than or equal to 1",
                            "type": "greater_than_equal",
                        }
                    ],
                }
            ]
        },
    )
    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(description="What went wrong, for programs (stable).")
    errors: list[ValidationIssue] | None = Field(
        default=None, description="Only with `validation_error`: every problem found."
    )


class MessageOut(BaseModel):
    model_config = example(message="Group updated successfully.")
    message: str


class JobStarted(BaseModel):
    """202 body of ``/digest``, ``/cluster-faces`` and ``/download``."""

    model_config = example(job_id=_UUID, status="started", message="Digest started.")
    job_id: str
    status: str
    message: str


class JobOut(BaseModel):
    """A job's state; digest/cluster: pending|running|succeeded|failed; download: ...|ready."""

    model_config = example(
        job_id=_UUID,
        job_type="digest",
        status="running",
        group_id=_UUID,
        total=64,
        done=40,
        failed=1,
        result={},
        error=None,
        created_at="2026-11-22T10:00:00Z",
        updated_at="2026-11-22T10:00:09Z",
    )
    job_id: str
    job_type: str
    status: JobStatus
    group_id: str | None = None
    total: int = 0
    done: int = 0
    failed: int = 0
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created_at: datetime
    updated_at: datetime


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


# --- auth -----------------------------------------------------------------------------------
class OtpRequest(BaseModel):
    model_config = example(phone_number="+14155550123")
    phone_number: str = Field(min_length=8, max_length=20)


class OtpOut(BaseModel):
    model_config = example(message="Code sent.", expires_in=300, sends_remaining=4)
    message: str
    expires_in: int = Field(description="Seconds until the code expires.")
    sends_remaining: int = Field(description="Codes that may still be sent this hour.")


class TokenRequest(BaseModel):
    model_config = example(phone_number="+14155550123", otp="123456")
    phone_number: str = Field(min_length=8, max_length=20)
    otp: str = Field(min_length=4, max_length=10)


class TokenOut(BaseModel):
    model_config = example(
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        token_type="bearer",
        expires_in=604800,
        user_id=_UUID,
    )
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user_id: str


class RegisterOut(BaseModel):
    """201 body of ``/register``: the seed's fields plus the access token."""

    model_config = example(
        user_id=_UUID,
        name="Ada",
        message="User registered successfully.",
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        token_type="bearer",
        expires_in=604800,
        face_id=_UUID,
    )
    user_id: str
    name: str
    message: str
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    face_id: str


class SelfieOut(BaseModel):
    model_config = example(face_id=_UUID, reference_faces=2, message="Selfie added.")
    face_id: str
    reference_faces: int
    message: str


class SelfieUploadRequest(BaseModel):
    model_config = example(content_type="image/jpeg", size_bytes=5_200_000)
    content_type: str = Field(default="image/jpeg", max_length=100)
    size_bytes: int | None = Field(default=None, ge=1, description="Declared size, checked early.")


class RegisterSelfieUploadRequest(SelfieUploadRequest):
    model_config = example(
        phone_number="+14155550123", otp="123456", content_type="image/jpeg", size_bytes=5_200_000
    )
    phone_number: str = Field(min_length=8, max_length=20)
    otp: str = Field(min_length=4, max_length=10, description="The code from POST /auth/otp.")


class SelfieUploadOut(BaseModel):
    """POST ``fields`` plus the file (form field ``file``, last) to ``url`` before ``expires``,
    then send ``selfie_key`` instead of the file (once: a used upload is deleted)."""

    model_config = example(
        selfie_key=f"selfies/uploads/u-{_UUID}/{_UUID}.jpg",
        url="https://findme-prod-media-123456789012-eu-west-1.s3.amazonaws.com/",
        fields={"key": f"selfies/uploads/u-{_UUID}/{_UUID}.jpg", "Content-Type": "image/jpeg"},
        expires="2026-01-01T12:10:00Z",
        max_bytes=26_214_400,
    )
    selfie_key: str
    url: str
    fields: dict[str, str]
    expires: datetime
    max_bytes: int


class SelfieView(BaseModel):
    face_id: str
    created_at: datetime
    thumbnail_url: str = Field(description="Presigned GET URL of the selfie's face crop.")
    expires: datetime


class SelfieList(BaseModel):
    model_config = example(
        user_id=_UUID,
        selfies=[
            {
                "face_id": _UUID,
                "created_at": "2026-11-22T10:00:00Z",
                "thumbnail_url": "https://findme-media.s3.amazonaws.com/selfies/...-face.jpg?...",
                "expires": "2026-11-22T11:00:00Z",
            }
        ],
    )
    user_id: str
    selfies: list[SelfieView]


class SelfieDeleted(BaseModel):
    model_config = example(face_id=_UUID, reference_faces=1, message="Selfie removed.")
    face_id: str
    reference_faces: int = Field(description="Selfies left.")
    message: str


class UserOut(BaseModel):
    model_config = example(
        user_id=_UUID, name="Ada", phone_number="+14155550123", role="member", reference_faces=1
    )
    user_id: str
    name: str
    phone_number: str
    role: str
    reference_faces: int


# --- groups -----------------------------------------------------------------------------------
class GroupCreate(BaseModel):
    model_config = example(group_name="Summer Gala 2026", description="Main hall, 21 June")
    group_name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class GroupCreated(BaseModel):
    model_config = example(group_id=_UUID, group_name="Summer Gala 2026", invite_code="K7QX2MPR9T")
    group_id: str
    group_name: str
    invite_code: str


class ImageCounts(BaseModel):
    model_config = example(uploaded=3, processing=1, processed=58, failed=2, total=64)
    uploaded: int = 0
    processing: int = 0
    processed: int = 0
    failed: int = 0
    total: int = 0


class GroupOut(BaseModel):
    model_config = example(
        group_id=_UUID,
        group_name="Summer Gala 2026",
        description="Main hall, 21 June",
        owner_id=_UUID,
        role="owner",
        invite_code="K7QX2MPR9T",
        photographer_invite_code="P4HW8ZJN3C",
        common_photo_ids=[],
        created_at="2026-11-22T10:00:00Z",
        image_counts={"uploaded": 0, "processing": 0, "processed": 64, "failed": 0, "total": 64},
    )
    group_id: str
    group_name: str
    description: str
    owner_id: str
    role: GroupRole | None = Field(description="The caller's role; null for an admin outsider.")
    invite_code: str = Field(description="Joining with it makes a member.")
    photographer_invite_code: str | None = Field(
        default=None,
        description="Joining with it makes a photographer; shown to those who administer the "
        "group (owners, admins), null for others or when none was made "
        "(`POST /groups/{group_id}/invite-codes`).",
    )
    common_photo_ids: list[str]
    created_at: datetime
    image_counts: ImageCounts | None = None


class GroupList(BaseModel):
    groups: list[GroupOut]


class GroupUpdate(BaseModel):
    """``PATCH /groups/{group_id}``: the fields to change; those left out are kept."""

    model_config = example(group_name="Summer Gala 2026 (day 2)", description="Garden")
    group_name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class InviteCodeRequest(BaseModel):
    model_config = example(role="photographer")
    role: GroupRole = Field(
        description="`member` or `photographer`: the role the new code gives (owners are "
        "promoted by hand)."
    )


class MemberOut(BaseModel):
    model_config = example(
        group_id=_UUID,
        user_id=_UUID,
        name="Grace",
        role="photographer",
        joined_at="2026-11-22T10:00:00Z",
    )
    group_id: str
    user_id: str
    name: str | None = Field(description="The user's name (null when the account is gone).")
    role: GroupRole
    joined_at: datetime


class MemberPage(BaseModel):
    model_config = example(
        items=[
            {
                "group_id": _UUID,
                "user_id": _UUID,
                "name": "Organiser",
                "role": "owner",
                "joined_at": "2026-11-22T10:00:00Z",
            },
            {
                "group_id": _UUID,
                "user_id": _UUID,
                "name": "Grace",
                "role": "photographer",
                "joined_at": "2026-11-22T10:05:00Z",
            },
        ],
        next_cursor=None,
    )
    items: list[MemberOut]
    next_cursor: str | None = None


class MemberAdd(BaseModel):
    """Who (exactly one of ``user_id`` and ``phone_number``, a registered user) and the role."""

    model_config = example(phone_number="+14155550122", role="photographer")
    user_id: str | None = Field(default=None, min_length=1, max_length=128)
    phone_number: str | None = Field(default=None, min_length=8, max_length=20)
    role: GroupRole = GroupRole.MEMBER


class MemberRole(BaseModel):
    model_config = example(role="owner")
    role: GroupRole


class JoinRequest(BaseModel):
    model_config = example(invite_code="K7QX2MPR9T")
    invite_code: str = Field(min_length=4, max_length=64)


class JoinOut(BaseModel):
    model_config = example(
        group_id=_UUID, group_name="Summer Gala", role="member", message="Joined the group."
    )
    group_id: str
    group_name: str | None = None
    role: GroupRole
    message: str


class UpdateGroup(BaseModel):
    model_config = example(group_id=_UUID, common_photo_ids=[_UUID])
    group_id: str
    common_photo_ids: list[str] = Field(max_length=1000)


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


class FacialArea(BaseModel):
    """A face's bounding box in original-image pixels (the name ``/get-faces`` uses)."""

    x: int
    y: int
    w: int
    h: int


def facial_area(bbox: Mapping[str, int]) -> FacialArea:
    """A stored bounding box ``{"x", "y", "w", "h"}`` as the API's ``facial_area``."""
    return FacialArea(**{k: int(bbox.get(k, 0)) for k in ("x", "y", "w", "h")})


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


# --- faces ----------------------------------------------------------------------------------
class DigestRequest(BaseModel):
    model_config = example(
        s3_bucket="findme-media", s3_prefix=f"originals/{_UUID}/", group_id=_UUID
    )
    s3_bucket: str
    s3_prefix: str = ""
    group_id: str


class ClusterRequest(BaseModel):
    model_config = example(group_id=_UUID)
    group_id: str
    eps: float | None = Field(default=None, gt=0.0, lt=2.0)
    min_samples: int | None = Field(default=None, ge=1, le=100)


class SearchMatch(BaseModel):
    image_s3_path: str
    face_id: str
    similarity_score: float
    person_id: str | None = None
    image_id: str
    group_id: str


class SearchOut(BaseModel):
    model_config = example(
        matches=[
            {
                "image_s3_path": f"s3://findme-media/originals/{_UUID}/{_UUID}.jpg",
                "face_id": _UUID,
                "similarity_score": 0.78,
                "person_id": _UUID,
                "image_id": _UUID,
                "group_id": _UUID,
            }
        ]
    )
    matches: list[SearchMatch]


# --- conversions --------------------------------------------------------------------------------
def group_out(summary: GroupSummary) -> GroupOut:
    group: Group = summary.group
    counts = ImageCounts(**summary.image_counts) if summary.image_counts else None
    return GroupOut(
        group_id=group.group_id,
        group_name=group.name,
        description=group.description,
        owner_id=group.owner_id,
        role=summary.role,
        invite_code=group.invite_code,
        photographer_invite_code=(
            group.photographer_invite_code or None if summary.administers else None
        ),
        common_photo_ids=list(group.common_photo_ids),
        created_at=group.created_at,
        image_counts=counts,
    )


def member_out(member: Member) -> MemberOut:
    m = member.membership
    return MemberOut(
        group_id=m.group_id,
        user_id=m.user_id,
        name=member.name,
        role=GroupRole(m.role),
        joined_at=m.joined_at,
    )


def captured_at(image: Image) -> datetime | None:
    """The capture time in the camera's UTC offset when EXIF recorded it (else as stored)."""
    if image.captured_at is None or image.captured_utc_offset_min is None:
        return image.captured_at
    return image.captured_at.astimezone(timezone(timedelta(minutes=image.captured_utc_offset_min)))


def image_out(image: Image, links: PhotoLinks | None = None) -> ImageOut:
    return ImageOut(
        image_id=image.image_id,
        group_id=image.group_id,
        status=str(image.status),
        failure_reason=image.failure_reason,
        file_name=image.file_name,
        content_type=image.content_type,
        size_bytes=image.size_bytes,
        width=image.width,
        height=image.height,
        captured_at=captured_at(image),
        face_count=image.face_count,
        common=image.common,
        tags=list(image.tags),
        description=image.description,
        section_id=image.section_id,
        uploaded_by=image.uploaded_by,
        created_at=image.created_at,
        processed_at=image.processed_at,
        url=links.url if links else None,
        thumbnail_url=links.thumbnail_url if links else None,
        preview_url=links.preview_url if links else None,
        expires=links.expires if links else None,
    )


def job_out(job: Job) -> JobOut:
    return JobOut(
        job_id=job.job_id,
        job_type=str(job.job_type),
        status=job.status,
        group_id=job.group_id,
        total=job.total,
        done=job.done,
        failed=job.failed,
        result=dict(job.result),
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
