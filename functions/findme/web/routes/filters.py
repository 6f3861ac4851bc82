"""Finding faces to review: advanced filter, near duplicates, person outliers.

Paths::

    POST /faces/search        advanced filter (groups, persons, confidence, quality, dates)
    POST /faces/filter        the same (the seed's path)
    GET  /faces/duplicates    near-identical faces from different photos (cached 10 min)
    GET  /faces/outliers      faces far from the rest of their person

Registered before the ``/faces/{face_id}`` routes, so these literal paths win.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from findme.services import duplicates as dup
from findme.services import face_filters
from findme.web import deps
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import (
    FACE_EXAMPLE,
    INPUT_ERRORS,
    LIMIT_HEAVY,
    FaceOut,
    ThumbnailUrls,
    example,
    face_out,
)

router = APIRouter(tags=["curation"])


class FaceSearchRequest(BaseModel):
    """Every criterion is optional; all given ones must hold."""

    model_config = example(
        group_ids=["9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"],
        min_confidence=0.8,
        unlabeled_only=True,
        created_after="2026-05-01T00:00:00Z",
        limit=50,
    )

    group_ids: list[str] = Field(default_factory=list, max_length=100)
    person_ids: list[str] = Field(default_factory=list, max_length=100)
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    max_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    min_blur_score: float | None = Field(default=None, ge=0.0, le=1.0)
    min_brightness_score: float | None = Field(default=None, ge=0.0, le=1.0)
    unlabeled_only: bool = False
    has_thumbnail: bool | None = None
    created_after: str | None = Field(
        default=None,
        description="ISO 8601 (400 when malformed).",
        examples=["2026-05-01T00:00:00Z"],
    )
    created_before: str | None = Field(default=None, description="ISO 8601 (400 when malformed).")
    limit: int = Field(default=100, ge=1, le=face_filters.MAX_FILTER_RESULTS)


class FaceSearchOut(BaseModel):
    model_config = example(faces=[FACE_EXAMPLE], count=1)

    faces: list[FaceOut]
    count: int


@router.post(
    "/faces/search",
    summary="Advanced face filter",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: 50},
)
@router.post(
    "/faces/filter",
    summary="Advanced face filter: the seed's path for POST /faces/search",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: 50},
)
def search_faces(
    body: FaceSearchRequest, policy: deps.Rights, metadata: deps.Metadata, thumbs: ThumbnailUrls
) -> FaceSearchOut:
    """Faces of the groups where the caller reviews faces (UPLOAD: photographers, owners,
    admins), or of the named ones, newest first. An admin names the groups (``group_ids``)."""
    criteria = face_filters.criteria_from(**body.model_dump())
    faces = face_filters.filter_faces(metadata, policy, criteria)
    return FaceSearchOut(faces=[face_out(f, thumbs) for f in faces], count=len(faces))


class DuplicatePairOut(BaseModel):
    model_config = example(
        face_id_1="8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d",
        face_id_2="1c2d3e4f-5a6b-5c7d-8e9f-0a1b2c3d4e5f",
        image_id_1="5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
        image_id_2="7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
        similarity_score=0.9921,
        thumbnail_url_1="https://findme-media.s3.amazonaws.com/faces/...",
        thumbnail_url_2="https://findme-media.s3.amazonaws.com/faces/...",
    )

    face_id_1: str
    face_id_2: str
    image_id_1: str
    image_id_2: str
    similarity_score: float = Field(description="Cosine similarity of the two embeddings.")
    thumbnail_url_1: str | None
    thumbnail_url_2: str | None


class DuplicatesOut(BaseModel):
    pairs: list[DuplicatePairOut]
    threshold: float
    group_ids: list[str]
    computed_at: datetime
    cached: bool = Field(description="True when served from the 10-minute cache.")


@router.get(
    "/faces/duplicates",
    summary="Near-duplicate faces (never two faces of one photo)",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def duplicates(
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    thumbs: ThumbnailUrls,
    group_id: Annotated[str | None, Query(description="Only this group.")] = None,
    threshold: Annotated[float, Query(ge=0.8, le=0.99)] = dup.DEFAULT_DUPLICATE_THRESHOLD,
    limit: Annotated[int, Query(ge=1, le=dup.MAX_DUPLICATES)] = 50,
) -> DuplicatesOut:
    """UPLOAD in the group(s); an admin names the group (``group_id``)."""
    result = dup.find_duplicates(
        metadata, vectors, policy, group_id=group_id, threshold=threshold, limit=limit
    )
    return DuplicatesOut(
        pairs=[
            DuplicatePairOut(
                face_id_1=p.face_1.face_id,
                face_id_2=p.face_2.face_id,
                image_id_1=p.face_1.image_id,
                image_id_2=p.face_2.image_id,
                similarity_score=round(p.similarity, 4),
                thumbnail_url_1=thumbs(p.face_1),
                thumbnail_url_2=thumbs(p.face_2),
            )
            for p in result.pairs
        ],
        threshold=result.threshold,
        group_ids=result.group_ids,
        computed_at=result.computed_at,
        cached=result.cached,
    )


class OutlierOut(BaseModel):
    model_config = example(
        face_id="8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d",
        image_id="5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
        person_id="2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b",
        person_name="Alice",
        person_face_count=12,
        confidence=0.93,
        avg_similarity_to_cluster=0.21,
        thumbnail_url="https://findme-media.s3.amazonaws.com/faces/...",
    )

    face_id: str
    image_id: str
    person_id: str
    person_name: str | None
    person_face_count: int
    confidence: float
    avg_similarity_to_cluster: float = Field(
        description="Mean cosine similarity to the person's other faces."
    )
    thumbnail_url: str | None


class OutliersOut(BaseModel):
    outliers: list[OutlierOut]
    threshold: float


@router.get(
    "/faces/outliers",
    summary="Faces that fit their person badly (likely mislabelled)",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def outliers(
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    thumbs: ThumbnailUrls,
    group_id: Annotated[str | None, Query()] = None,
    person_id: Annotated[str | None, Query()] = None,
    threshold: Annotated[float, Query(ge=0.3, le=0.8)] = dup.DEFAULT_OUTLIER_THRESHOLD,
    limit: Annotated[int, Query(ge=1, le=dup.MAX_OUTLIERS)] = 50,
) -> OutliersOut:
    """UPLOAD in the group(s); persons with at least two faces; lowest similarity first."""
    found = dup.find_outliers(
        metadata,
        vectors,
        policy,
        group_id=group_id,
        person_id=person_id,
        threshold=threshold,
        limit=limit,
    )
    return OutliersOut(
        outliers=[
            OutlierOut(
                face_id=o.face.face_id,
                image_id=o.face.image_id,
                person_id=o.person.person_id,
                person_name=o.person.name,
                person_face_count=o.person_face_count,
                confidence=o.face.confidence,
                avg_similarity_to_cluster=round(o.mean_similarity, 4),
                thumbnail_url=thumbs(o.face),
            )
            for o in found
        ],
        threshold=threshold,
    )
