"""Shared pieces of the curation routers: the caller's scope, API schemas and converters.

Schemas are separate from the records (``XPublic`` style) and converted explicitly here.
Not a router itself (it is not listed in ``findme.web.app.ROUTER_MODULES``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field

from findme.domain.records import Face, Image, Job, Person
from findme.services.curation import CurationScope, scope_for, thumbnail_url
from findme.web import deps
from findme.web.errors import error_responses


def curation_scope(principal: deps.CurrentUser, metadata: deps.Metadata) -> CurationScope:
    """The caller's curation scope (admin; groups curated; groups belonged to)."""
    return scope_for(metadata, principal.user_id, principal.role)


Scope = Annotated[CurationScope, Depends(curation_scope)]


def thumbnail_urls(
    objects: deps.Objects, settings: deps.SettingsDep
) -> Callable[[Face], str | None]:
    """Face -> presigned GET URL of its thumbnail (expiry ``Settings.presigned_url_expiry_s``)."""
    expires = settings.presigned_url_expiry_s

    def url(face: Face) -> str | None:
        return thumbnail_url(objects, face, expires_s=expires)

    return url


ThumbnailUrls = Annotated[Callable[[Face], str | None], Depends(thumbnail_urls)]

#: Error statuses every authenticated curation route may answer.
AUTH_ERRORS = error_responses(401, 403, 404, 429)
INPUT_ERRORS = error_responses(400, 401, 403, 404, 422, 429)

#: Curation reads and writes per caller per minute (the peer API's limits where it has one).
LIMIT_READ = 120
LIMIT_WRITE = 60
LIMIT_HEAVY = 20
LIMIT_JOB = 10


# --- schemas -------------------------------------------------------------------------------------
class BoundingBoxOut(BaseModel):
    x: int
    y: int
    w: int
    h: int


class FaceOut(BaseModel):
    """A detected face as curators see it."""

    face_id: str
    image_id: str
    group_id: str
    person_id: str | None
    is_manual_assignment: bool
    bbox: BoundingBoxOut
    confidence: float
    blur_score: float
    brightness_score: float
    overall_quality: float
    quality_grade: str
    issues: list[str]
    attributes: dict[str, Any] = Field(default_factory=dict)
    thumbnail_url: str | None = None
    created_at: datetime


def face_out(face: Face, thumb: Callable[[Face], str | None] | None = None) -> FaceOut:
    return FaceOut(
        face_id=face.face_id,
        image_id=face.image_id,
        group_id=face.group_id,
        person_id=face.person_id,
        is_manual_assignment=face.is_manual_assignment,
        bbox=BoundingBoxOut(**{k: int(face.bbox.get(k, 0)) for k in ("x", "y", "w", "h")}),
        confidence=face.confidence,
        blur_score=face.blur_score,
        brightness_score=face.brightness_score,
        overall_quality=face.overall_quality,
        quality_grade=face.quality_grade,
        issues=list(face.issues),
        attributes=dict(face.attributes),
        thumbnail_url=thumb(face) if thumb else None,
        created_at=face.created_at,
    )


class PersonOut(BaseModel):
    person_id: str
    group_id: str
    name: str | None
    hidden: bool
    face_count: int
    image_count: int
    cover_face_id: str | None
    linked_user_id: str | None
    created_at: datetime
    updated_at: datetime


def person_out(person: Person) -> PersonOut:
    return PersonOut(
        person_id=person.person_id,
        group_id=person.group_id,
        name=person.name,
        hidden=person.hidden,
        face_count=person.face_count,
        image_count=person.image_count,
        cover_face_id=person.cover_face_id,
        linked_user_id=person.linked_user_id,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


class ImageOut(BaseModel):
    image_id: str
    group_id: str
    status: str
    file_name: str | None
    width: int | None
    height: int | None
    captured_at: datetime | None
    face_count: int
    common: bool
    section_id: str | None
    tags: list[str]
    created_at: datetime


def image_out(image: Image) -> ImageOut:
    return ImageOut(
        image_id=image.image_id,
        group_id=image.group_id,
        status=str(image.status),
        file_name=image.file_name,
        width=image.width,
        height=image.height,
        captured_at=image.captured_at,
        face_count=image.face_count,
        common=image.common,
        section_id=image.section_id,
        tags=list(image.tags),
        created_at=image.created_at,
    )


class JobAccepted(BaseModel):
    """202 answer of a job-starting route; poll ``status_url`` (``GET /jobs/{job_id}``)."""

    job_id: str
    status: str = Field(examples=["pending"])
    message: str
    status_url: str
    total: int = 0


def job_accepted(job: Job, message: str) -> JobAccepted:
    return JobAccepted(
        job_id=job.job_id,
        status=str(job.status),
        message=message,
        status_url=f"/jobs/{job.job_id}",
        total=job.total,
    )
