"""Metadata records kept in DynamoDB, as plain dataclasses.

These are the domain's view; ``findme.adapters.dynamodb`` converts them to and from PynamoDB
models, and ``findme.web.schemas`` to and from API schemas. Times are timezone-aware UTC.
Ids are UUID strings unless stated.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Role(enum.StrEnum):
    """Platform role in a user's token (``admin`` sees everything)."""

    ADMIN = "admin"
    PHOTOGRAPHER = "photographer"
    MEMBER = "member"


class GroupRole(enum.StrEnum):
    """A user's role inside one group (what each may do: :mod:`findme.services.policy`)."""

    OWNER = "owner"
    PHOTOGRAPHER = "photographer"
    MEMBER = "member"


class ImageStatus(enum.StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


class JobType(enum.StrEnum):
    DIGEST = "digest"
    CLUSTER = "cluster"
    DOWNLOAD = "download"
    REPROCESS = "reprocess"
    DELETE_GROUP = "delete_group"


class JobStatus(enum.StrEnum):
    """Digest/cluster jobs end ``succeeded``; download jobs end ``ready``."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    READY = "ready"
    FAILED = "failed"


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of a listing; ``cursor`` is opaque and ``None`` on the last page."""

    items: list[T]
    cursor: str | None = None


@dataclass(slots=True)
class User:
    user_id: str
    phone_number: str  # E.164, unique
    name: str
    role: Role = Role.MEMBER
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ReferenceFace:
    """A registered user's selfie face: the reference the user's photos are matched against."""

    user_id: str
    face_id: str
    s3_key: str  # selfie original under selfies/
    created_at: datetime = field(default_factory=utcnow)
    thumbnail_key: str | None = None  # the face crop, selfies/{user_id}/{face_id}-face.jpg


@dataclass(slots=True)
class OtpChallenge:
    """A one-time code sent by SMS; only its hash is stored."""

    phone_number: str
    code_hash: str
    expires_at: datetime
    attempts: int = 0
    sends_in_window: int = 1
    window_started_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Group:
    group_id: str
    name: str
    owner_id: str
    description: str = ""
    #: Joining with it makes a ``member``; with ``photographer_invite_code`` a
    #: ``photographer`` (empty: no such code yet).
    invite_code: str = ""
    photographer_invite_code: str = ""
    common_photo_ids: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    #: The group's latest cluster job (``GET /groups/{group_id}/cluster-status``).
    last_cluster_job_id: str | None = None
    #: Gallery size at the last clustering (the matching bars depend on it): persons, and
    #: faces that are in a person; ``None`` time: never clustered.
    person_count: int = 0
    clustered_face_count: int = 0
    gallery_updated_at: datetime | None = None


@dataclass(slots=True)
class Membership:
    group_id: str
    user_id: str
    role: GroupRole
    joined_at: datetime = field(default_factory=utcnow)
    #: Faces of persons the user said are not them ("Is this you?" -> no): never offered or
    #: matched to this user again, whatever person ids a re-cluster gives them.
    rejected_face_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Section:
    group_id: str
    section_id: str
    name: str
    description: str = ""
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Image:
    image_id: str
    group_id: str
    s3_key: str  # originals/{group_id}/{image_id}
    status: ImageStatus = ImageStatus.UPLOADED
    failure_reason: str | None = None
    file_name: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    captured_at: datetime | None = None  # EXIF DateTimeOriginal, as UTC
    #: EXIF OffsetTimeOriginal in minutes east of UTC (``captured_at`` is shown in it);
    #: ``None``: the camera did not record its offset.
    captured_utc_offset_min: int | None = None
    face_count: int = 0
    common: bool = False
    tags: list[str] = field(default_factory=list)
    description: str = ""
    section_id: str | None = None
    uploaded_by: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    processed_at: datetime | None = None
    #: Renditions digest wrote (``None`` until the photo is processed).
    thumbnail_key: str | None = None
    preview_key: str | None = None
    #: Faces a curator deleted: a redelivered notification or an automatic re-digest never
    #: brings them back; a curator's reprocess clears the list.
    deleted_face_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Face:
    face_id: str  # uuid5(image_id, face_index)
    image_id: str
    group_id: str
    face_index: int
    bbox: dict[str, int]  # {"x","y","w","h"} pixels
    landmarks: dict[str, list[float]]  # LANDMARK_NAMES -> [x, y] pixels
    confidence: float
    blur_score: float
    brightness_score: float
    overall_quality: float
    quality_grade: str
    issues: list[str] = field(default_factory=list)
    person_id: str | None = None
    is_manual_placement: bool = False
    thumbnail_key: str | None = None  # faces/{group_id}/{face_id}.jpg
    attributes: dict[str, Any] = field(default_factory=dict)  # age, gender, emotion
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Person:
    person_id: str
    group_id: str
    name: str | None = None
    hidden: bool = False
    face_count: int = 0
    image_count: int = 0
    cover_face_id: str | None = None
    linked_user_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class PersonLink:
    """A person link: a person (cluster) of a group linked to a registered user, by selfie
    matching (``evidence``/``centroid``/``vote``), a curator (``manual``) or the user
    (``confirmed``). Stored in the ``assignments`` table (its deployed name)."""

    group_id: str
    person_id: str
    user_id: str
    similarity: float  # cosine similarity of the person to the user's selfies
    strategy: str  # "evidence" | "centroid" | "vote" | "manual" | "confirmed"
    created_at: datetime = field(default_factory=utcnow)
    #: ``vote`` only: the share of the person's faces that voted for the user (0-1).
    vote_share: float | None = None


@dataclass(slots=True)
class Job:
    job_id: str
    job_type: JobType
    status: JobStatus = JobStatus.PENDING
    group_id: str | None = None
    user_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    total: int = 0
    done: int = 0
    failed: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    expires_at: datetime | None = None  # DynamoDB TTL
