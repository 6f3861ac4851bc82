"""Shared pieces of the curation routers: API schemas, converters and thumbnail URLs.

Schemas are separate from the records (``XPublic`` style) and converted explicitly here.
Not a router itself (it is not listed in ``findme.web.app.ROUTER_MODULES``). Image and job
schemas are the API's own (:mod:`findme.web.schemas`), re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field

from findme.domain.records import Face, Job, Person
from findme.services.curation import thumbnail_url
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.schemas import FacialArea, ImageOut, JobStarted, example, facial_area, image_out

_FACE = "8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d"
_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"


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
def attributes_out(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A face's stored attributes in the API's names, those of ``/get-features``:
    ``emotion`` the dominant emotion (a label) and ``emotion_scores`` the probabilities.

    Digest stores the engine's names (``emotion`` the scores, ``dominant_emotion`` the
    label); this is the one place they are renamed.
    """
    out = {k: v for k, v in stored.items() if k not in ("emotion", "dominant_emotion")}
    scores = stored.get("emotion")
    if isinstance(scores, dict):
        out["emotion"] = stored.get("dominant_emotion") or (
            max(scores, key=lambda k: scores[k]) if scores else None
        )
        out["emotion_scores"] = scores
    elif "emotion" in stored or "dominant_emotion" in stored:
        out["emotion"] = stored.get("dominant_emotion") or scores
        out["emotion_scores"] = stored.get("emotion_scores")
    return out


FACE_EXAMPLE: dict[str, Any] = {
    "face_id": _FACE,
    "image_id": "5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
    "group_id": _GROUP,
    "person_id": _PERSON,
    "is_manual_assignment": False,
    "facial_area": {"x": 412, "y": 188, "w": 126, "h": 158},
    "confidence": 0.93,
    "blur_score": 0.82,
    "brightness_score": 0.74,
    "overall_quality": 0.81,
    "quality_grade": "B",
    "issues": [],
    "attributes": {
        "age": 34,
        "gender": "female",
        "emotion": "happy",
        "emotion_scores": {"happy": 0.91, "neutral": 0.07, "surprise": 0.02},
    },
    "thumbnail_url": "https://findme-media.s3.amazonaws.com/faces/...",
    "created_at": "2026-05-01T12:00:00Z",
}


class FaceOut(BaseModel):
    """A detected face as curators see it."""

    model_config = example(**FACE_EXAMPLE)

    face_id: str
    image_id: str
    group_id: str
    person_id: str | None
    is_manual_assignment: bool
    facial_area: FacialArea
    confidence: float
    blur_score: float
    brightness_score: float
    overall_quality: float
    quality_grade: str
    issues: list[str]
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Appearance estimates, named as in `/get-features`: `age`, `gender`, "
        "`emotion` (the dominant label) and `emotion_scores`.",
    )
    thumbnail_url: str | None = None
    created_at: datetime


def face_out(face: Face, thumb: Callable[[Face], str | None] | None = None) -> FaceOut:
    return FaceOut(
        face_id=face.face_id,
        image_id=face.image_id,
        group_id=face.group_id,
        person_id=face.person_id,
        is_manual_assignment=face.is_manual_assignment,
        facial_area=facial_area(face.bbox),
        confidence=face.confidence,
        blur_score=face.blur_score,
        brightness_score=face.brightness_score,
        overall_quality=face.overall_quality,
        quality_grade=face.quality_grade,
        issues=list(face.issues),
        attributes=attributes_out(face.attributes),
        thumbnail_url=thumb(face) if thumb else None,
        created_at=face.created_at,
    )


class PersonOut(BaseModel):
    model_config = example(
        person_id=_PERSON,
        group_id=_GROUP,
        name="Alice",
        hidden=False,
        face_count=12,
        image_count=11,
        cover_face_id=_FACE,
        cover_thumbnail_url="https://findme-media.s3.amazonaws.com/faces/...",
        linked_user_id=None,
        created_at="2026-05-01T12:00:00Z",
        updated_at="2026-05-02T08:30:00Z",
    )

    person_id: str
    group_id: str
    name: str | None
    hidden: bool
    face_count: int
    image_count: int
    cover_face_id: str | None
    cover_thumbnail_url: str | None = Field(
        default=None,
        description="Presigned URL of the cover face's crop (in person lists and details).",
    )
    linked_user_id: str | None
    created_at: datetime
    updated_at: datetime


def person_out(person: Person, cover_thumbnail_url: str | None = None) -> PersonOut:
    return PersonOut(
        person_id=person.person_id,
        group_id=person.group_id,
        name=person.name,
        hidden=person.hidden,
        face_count=person.face_count,
        image_count=person.image_count,
        cover_face_id=person.cover_face_id,
        cover_thumbnail_url=cover_thumbnail_url,
        linked_user_id=person.linked_user_id,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


class JobAccepted(JobStarted):
    """202 answer of a curation job; poll ``status_url`` (``GET /jobs/{job_id}``), whose
    ``result`` holds the job's counts when it ends."""

    model_config = example(
        job_id="3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21",
        status="pending",
        message="Clustering started.",
        status_url="/jobs/3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21",
        total=0,
    )

    status_url: str = Field(examples=["/jobs/3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21"])
    total: int = Field(default=0, description="Items the job will process.")


def job_accepted(job: Job, message: str) -> JobAccepted:
    return JobAccepted(
        job_id=job.job_id,
        status=str(job.status),
        message=message,
        status_url=f"/jobs/{job.job_id}",
        total=job.total,
    )


__all__ = ["FacialArea", "ImageOut", "example", "facial_area", "image_out"]
