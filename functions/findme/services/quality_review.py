"""Quality review of detected faces: one face, a batch (normal or strict), a group's worst.

Scores, grades and issue strings come from :mod:`findme.domain.quality` (the peer
face-quality API's formula: ``overall = 0.4·blur + 0.4·brightness + 0.2·confidence``; grades
A ≥ .85, B ≥ .70, C ≥ .55, D ≥ .40, else F; issues "Image is blurry" < .5, "Poor
lighting/exposure" < .4, "Overexposed" > .9, "Low detection confidence" < .7, and the strict
thresholds blur .6, brightness .5-.85, confidence .8). They are recomputed from the stored
component scores on every read, so a change of formula never leaves stale grades behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from findme.domain import quality as q
from findme.domain.records import Face
from findme.errors import InvalidInputError
from findme.ports import FaceRepository
from findme.services.curation_access import check_range, face_for
from findme.services.policy import Need, Policy

#: Batch quality check size limits (peer API, docs/compatibility.md: 1-100 face ids).
MAX_BATCH_QUALITY = 100
#: Low-quality listing limits and default (peer API: limit 1-500, min_overall_quality .5).
MAX_LOW_QUALITY = 500
DEFAULT_MIN_OVERALL_QUALITY = 0.5


@dataclass(frozen=True, slots=True)
class FaceQualityReport:
    """The peer API's ``FaceQualityResponse`` (``photo_id`` is our ``image_id``)."""

    face_id: str
    image_id: str
    group_id: str
    person_id: str | None
    blur_score: float
    brightness_score: float
    confidence: float
    overall_quality: float
    quality_grade: str
    issues: tuple[str, ...]
    thumbnail_url: str | None


ThumbnailUrl = Callable[[Face], str | None]


def assess(
    face: Face, *, thumbnail_url: ThumbnailUrl, strict_mode: bool = False
) -> FaceQualityReport:
    """Grade one stored face.

    Args:
        face: the face item (component scores in ``[0, 1]``).
        thumbnail_url: face -> presigned thumbnail URL (or ``None``).
        strict_mode: use the strict issue thresholds.
    """
    overall = q.overall_quality(face.blur_score, face.brightness_score, face.confidence)
    return FaceQualityReport(
        face_id=face.face_id,
        image_id=face.image_id,
        group_id=face.group_id,
        person_id=face.person_id,
        blur_score=face.blur_score,
        brightness_score=face.brightness_score,
        confidence=face.confidence,
        overall_quality=overall,
        quality_grade=q.quality_grade(overall),
        issues=tuple(
            q.quality_issues(
                face.blur_score, face.brightness_score, face.confidence, strict=strict_mode
            )
        ),
        thumbnail_url=thumbnail_url(face),
    )


def face_quality(
    metadata: FaceRepository,
    policy: Policy,
    face_id: str,
    *,
    thumbnail_url: ThumbnailUrl,
) -> FaceQualityReport:
    """One face's quality (UPLOAD). Raises NotFoundError, PermissionDeniedError."""
    face = face_for(metadata, policy, face_id, Need.UPLOAD)
    return assess(face, thumbnail_url=thumbnail_url)


@dataclass(slots=True)
class BatchQuality:
    """Reports for the faces the caller may review; ``skipped_face_ids`` are the others
    (unknown, or in a group where the caller lacks UPLOAD: the two are not told apart)."""

    faces: list[FaceQualityReport]
    skipped_face_ids: list[str]
    strict_mode: bool


def batch_quality(
    metadata: FaceRepository,
    policy: Policy,
    face_ids: Sequence[str],
    *,
    strict_mode: bool,
    thumbnail_url: ThumbnailUrl,
) -> BatchQuality:
    """Grade 1-100 faces in one call, in the order given (duplicates once); faces the caller
    may not review, and unknown ids, are skipped (all of them skipped is still an answer).

    Raises:
        InvalidInputError: no ids or more than 100.
    """
    ids = list(dict.fromkeys(face_ids))
    if not 1 <= len(ids) <= MAX_BATCH_QUALITY:
        raise InvalidInputError(f"face_ids must hold 1-{MAX_BATCH_QUALITY} ids", field="face_ids")
    found = {f.face_id: f for f in metadata.get_faces(ids)}
    allowed = [
        found[i] for i in ids if i in found and policy.allows(found[i].group_id, Need.UPLOAD)
    ]
    allowed_ids = {f.face_id for f in allowed}
    return BatchQuality(
        faces=[assess(f, thumbnail_url=thumbnail_url, strict_mode=strict_mode) for f in allowed],
        skipped_face_ids=[i for i in ids if i not in allowed_ids],
        strict_mode=strict_mode,
    )


def low_quality_faces(
    metadata: FaceRepository,
    policy: Policy,
    group_id: str,
    *,
    min_overall_quality: float = DEFAULT_MIN_OVERALL_QUALITY,
    limit: int = 100,
    thumbnail_url: ThumbnailUrl,
) -> list[FaceQualityReport]:
    """A group's faces with ``overall_quality < min_overall_quality``, worst first.

    Raises:
        InvalidInputError: ``min_overall_quality`` outside ``[0, 1]`` or ``limit`` outside
            1-500.
        NotFoundError: unknown group. PermissionDeniedError: the policy (UPLOAD).
    """
    check_range("min_overall_quality", min_overall_quality, 0.0, 1.0)
    check_range("limit", limit, 1, MAX_LOW_QUALITY)
    policy.authorize(group_id, Need.UPLOAD)
    scored = [
        (q.overall_quality(f.blur_score, f.brightness_score, f.confidence), f.face_id, f)
        for f in metadata.list_faces_of_group(group_id)
    ]
    worst = sorted((s for s in scored if s[0] < min_overall_quality), key=lambda s: s[:2])
    return [assess(f, thumbnail_url=thumbnail_url) for _, _, f in worst[:limit]]
