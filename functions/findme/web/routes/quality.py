"""Quality review (the peer face-quality API's formula, grades and issue strings).

Paths::

    GET  /faces/{face_id}/quality               one face
    POST /faces/quality:batch                   1-100 faces, optional strict_mode
    GET  /groups/{group_id}/faces/low-quality   faces below min_overall_quality, worst first
    GET  /admin/settings/quality                the registration-selfie thresholds (admins)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from findme.services import quality_review as svc
from findme.services.users_admin import selfie_quality_settings
from findme.web import deps
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import (
    AUTH_ERRORS,
    INPUT_ERRORS,
    LIMIT_HEAVY,
    ThumbnailUrls,
)

router = APIRouter(tags=["quality"])

QUALITY_EXAMPLE: dict[str, Any] = {
    "face_id": "0b9c6f0e-6a52-5b8e-9d1f-3c2a8e4b7d10",
    "image_id": "5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
    "group_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "person_id": None,
    "blur_score": 0.85,
    "brightness_score": 0.75,
    "confidence": 0.92,
    "overall_quality": 0.824,
    "quality_grade": "B",
    "issues": [],
    "thumbnail_url": "https://findme-media.s3.amazonaws.com/faces/...",
}


class FaceQualityOut(BaseModel):
    """``overall_quality = 0.4·blur + 0.4·brightness + 0.2·confidence``; grades A ≥ .85,
    B ≥ .70, C ≥ .55, D ≥ .40, else F; issues "Image is blurry" (blur < .5), "Poor
    lighting/exposure" (< .4), "Overexposed" (> .9), "Low detection confidence" (< .7)."""

    model_config = ConfigDict(json_schema_extra={"examples": [QUALITY_EXAMPLE]})

    face_id: str
    image_id: str
    group_id: str
    person_id: str | None
    blur_score: float
    brightness_score: float
    confidence: float
    overall_quality: float
    quality_grade: str
    issues: list[str]
    thumbnail_url: str | None


def _out(report: svc.FaceQualityReport) -> FaceQualityOut:
    return FaceQualityOut(
        face_id=report.face_id,
        image_id=report.image_id,
        group_id=report.group_id,
        person_id=report.person_id,
        blur_score=report.blur_score,
        brightness_score=report.brightness_score,
        confidence=report.confidence,
        overall_quality=report.overall_quality,
        quality_grade=report.quality_grade,
        issues=list(report.issues),
        thumbnail_url=report.thumbnail_url,
    )


@router.get(
    "/faces/{face_id}/quality",
    summary="A face's quality scores, grade and issues",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: 100},
)
def face_quality(
    face_id: str, policy: deps.Rights, metadata: deps.Metadata, thumbs: ThumbnailUrls
) -> FaceQualityOut:
    """UPLOAD in the face's group."""
    return _out(svc.face_quality(metadata, policy, face_id, thumbnail_url=thumbs))


class QualityCheckRequest(BaseModel):
    face_ids: list[str] = Field(min_length=1, max_length=svc.MAX_BATCH_QUALITY)
    strict_mode: bool = Field(
        default=False,
        description="Strict thresholds: blur .6, brightness .5-.85, confidence .8.",
    )


class QualityCheckOut(BaseModel):
    faces: list[FaceQualityOut]
    skipped_face_ids: list[str] = Field(
        description="Unknown ids and faces of groups where the caller may not review faces."
    )
    strict_mode: bool


@router.post(
    "/faces/quality:batch",
    summary="Quality of 1-100 faces (optionally strict)",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def batch_quality(
    body: QualityCheckRequest, policy: deps.Rights, metadata: deps.Metadata, thumbs: ThumbnailUrls
) -> QualityCheckOut:
    """Faces the caller may not review (UPLOAD in their group) and unknown ids are skipped,
    even when that is all of them (200 with every id in ``skipped_face_ids``)."""
    result = svc.batch_quality(
        metadata, policy, body.face_ids, strict_mode=body.strict_mode, thumbnail_url=thumbs
    )
    return QualityCheckOut(
        faces=[_out(r) for r in result.faces],
        skipped_face_ids=result.skipped_face_ids,
        strict_mode=result.strict_mode,
    )


class LowQualityOut(BaseModel):
    group_id: str
    min_overall_quality: float
    faces: list[FaceQualityOut]


@router.get(
    "/groups/{group_id}/faces/low-quality",
    summary="A group's low-quality faces, worst first",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: 50},
)
def low_quality(
    group: deps.GroupUploader,
    policy: deps.Rights,
    metadata: deps.Metadata,
    thumbs: ThumbnailUrls,
    min_overall_quality: Annotated[float, Query(ge=0.0, le=1.0)] = svc.DEFAULT_MIN_OVERALL_QUALITY,
    limit: Annotated[int, Query(ge=1, le=svc.MAX_LOW_QUALITY)] = 100,
) -> LowQualityOut:
    """UPLOAD."""
    group_id = group.group.group_id
    faces = svc.low_quality_faces(
        metadata,
        policy,
        group_id,
        min_overall_quality=min_overall_quality,
        limit=limit,
        thumbnail_url=thumbs,
    )
    return LowQualityOut(
        group_id=group_id, min_overall_quality=min_overall_quality, faces=[_out(f) for f in faces]
    )


class SelfieQualityOut(BaseModel):
    """Thresholds a registration selfie must meet (settings ``FINDME_SELFIE_*``)."""

    min_face_size: int = Field(description="Shorter side of the face box, pixels.")
    min_confidence: float = Field(description="Detector score, 0-1.")
    blur_threshold: float = Field(description="Minimum blur_score, 0-1.")


@router.get(
    "/admin/settings/quality",
    summary="Registration-selfie quality thresholds (admins)",
    responses=AUTH_ERRORS,
)
def selfie_quality(admin: deps.AdminUser, settings: deps.SettingsDep) -> SelfieQualityOut:
    values = selfie_quality_settings(settings)
    return SelfieQualityOut(
        min_face_size=int(values["min_face_size"]),
        min_confidence=float(values["min_confidence"]),
        blur_threshold=float(values["blur_threshold"]),
    )
