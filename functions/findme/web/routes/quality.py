"""Quality review (the peer API's formula, grades and issue strings: docs/compatibility.md).

Paths::

    GET  /faces/{face_id}/quality               one face
    POST /faces/quality:batch                   1-100 faces, optional strict_mode
    GET  /groups/{group_id}/faces/low-quality   faces below min_overall_quality, worst first
    GET  /admin/settings/quality                the registration-selfie thresholds (admins)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from findme.services import quality_review as svc
from findme.services.users_admin import selfie_quality_settings
from findme.web import deps
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import AUTH_ERRORS, INPUT_ERRORS, LIMIT_HEAVY, ThumbnailUrls
from findme.web.schemas.quality import (
    FaceQualityOut,
    LowQualityOut,
    QualityCheckOut,
    QualityCheckRequest,
    SelfieQualityOut,
    face_quality_out,
)

router = APIRouter(tags=["quality"], responses=AUTH_ERRORS)


@router.get(
    "/faces/{face_id}/quality",
    summary="A face's quality scores, grade and issues",
    openapi_extra={RATE_LIMIT_KEY: 100},
)
def face_quality(
    face_id: str, policy: deps.Rights, metadata: deps.Metadata, thumbs: ThumbnailUrls
) -> FaceQualityOut:
    """UPLOAD in the face's group."""
    return face_quality_out(svc.face_quality(metadata, policy, face_id, thumbnail_url=thumbs))


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
        faces=[face_quality_out(r) for r in result.faces],
        skipped_face_ids=result.skipped_face_ids,
        strict_mode=result.strict_mode,
    )


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
        group_id=group_id,
        min_overall_quality=min_overall_quality,
        faces=[face_quality_out(f) for f in faces],
    )


@router.get(
    "/admin/settings/quality",
    summary="Registration-selfie quality thresholds (admins)",
)
def selfie_quality(admin: deps.AdminUser, settings: deps.SettingsDep) -> SelfieQualityOut:
    values = selfie_quality_settings(settings)
    return SelfieQualityOut(
        min_face_size=int(values["min_face_size"]),
        min_confidence=float(values["min_confidence"]),
        blur_threshold=float(values["blur_threshold"]),
    )
